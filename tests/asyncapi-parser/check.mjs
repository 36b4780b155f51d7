// Loads the AsyncAPI document with @asyncapi/parser (which validates it against the AsyncAPI 3.0
// specification, the Kafka bindings included) and prints what it found; exits 1 on any problem.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const path = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"));
// Severity 0 is an error, 1 a warning; hints and information (2, 3) do not fail the check.
const problems = diagnostics.filter((d) => d.severity <= 1);
for (const d of problems) {
  console.log(`${d.severity === 0 ? "error" : "warning"} at ${d.path.join(".") || "(top)"}: ${d.message}`);
}
if (!document || problems.length) {
  process.exit(1);
}
console.log(`${path}: AsyncAPI ${document.version()}, ${document.channels().length} channels, ${document.operations().length} operations, no problems`);
