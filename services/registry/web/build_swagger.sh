#!/usr/bin/env bash
# Copies the API guide's viewer (Swagger UI, npm package swagger-ui-dist) into static/swagger/, pinned,
# so /docs loads nothing from another site. Needs npm; run it only when changing the version.
set -euo pipefail
VERSION="${SWAGGER_UI_VERSION:-5.31.0}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null
tar xzf "swagger-ui-dist-$VERSION.tgz"
mkdir -p "$here/static/swagger"
# Drop the source-map comments: the maps are not shipped.
sed 's#//\# sourceMappingURL=.*##' package/swagger-ui-bundle.js > "$here/static/swagger/swagger-ui-bundle.js"
sed 's#/\*\# sourceMappingURL=.*\*/##' package/swagger-ui.css > "$here/static/swagger/swagger-ui.css"
cp package/LICENSE package/swagger-ui-bundle.js.LICENSE.txt "$here/static/swagger/"
echo "swagger-ui-dist $VERSION" > "$here/static/swagger/VERSION"
