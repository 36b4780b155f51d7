"""The files in deploy/ cannot be run here (no Docker, no cluster), so parse them and check
that they agree with the code: the topic list, the settings the services read, the commands."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from schemas.topics import ALL_TOPICS
from services.common.background import Background
from services.common.kafka import topic_config
from services.common.runtime import MetricsSampler
from services.common.settings import KafkaSettings, OpsSettings, ReliabilitySettings
from services.matcher.config import MatcherSettings
from services.notifier.config import NotifierSettings
from services.notifier.scheduler import GRACE_SECONDS as SCHEDULER_GRACE
from services.registry.config import RegistrySettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SERVICES = ("registry", "matcher", "notifier")
EXPECTED_TOPICS = {t.name: (t.partitions, topic_config(t, KafkaSettings())) for t in ALL_TOPICS}


def settings_env_names() -> set[str]:
    """Every environment variable the services read: env_prefix + field name, upper-cased."""
    names = set()
    for cls in (RegistrySettings, MatcherSettings, NotifierSettings, KafkaSettings, ReliabilitySettings, OpsSettings):
        prefix = cls.model_config.get("env_prefix", "")
        for field_name, field in cls.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings):
                continue  # nested settings (kafka, reliability) read their own prefix
            names.add(f"{prefix}{field_name}".upper())
    return names


KNOWN_ENV = settings_env_names()


def load_all(path: Path) -> list:
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def load_one(path: Path) -> dict:
    docs = load_all(path)
    assert len(docs) == 1, path
    return docs[0]


def compose() -> dict:
    return load_one(DEPLOY / "compose.yaml")


def pairing_services(spec: dict) -> dict[str, dict]:
    """The compose services built from deploy/Dockerfile."""
    return {
        name: svc
        for name, svc in spec["services"].items()
        if isinstance(svc.get("build"), dict) and svc["build"].get("dockerfile") == "deploy/Dockerfile"
    }


def k8s_docs() -> list[dict]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in load_all(path)]


def k8s_kind(kind: str) -> list[dict]:
    return [doc for doc in k8s_docs() if doc.get("kind") == kind]


def parse_dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    instructions, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends in a continuation line"
    return instructions


def topic_commands(script: str) -> dict[str, tuple[int, dict[str, str]]]:
    """Topic name -> (partitions, topic settings) from the kafka-topics.sh lines of a shell script."""
    found: dict[str, tuple[int, dict[str, str]]] = {}
    for line in script.splitlines():
        if "kafka-topics.sh" not in line:
            continue
        args = shlex.split(line)
        assert "--create" in args and "--if-not-exists" in args, line
        assert args[args.index("--replication-factor") + 1] == "1", line
        name = args[args.index("--topic") + 1]
        configs = dict(args[i + 1].split("=", 1) for i, arg in enumerate(args) if arg == "--config")
        assert name not in found, f"{name} is created twice"
        found[name] = (int(args[args.index("--partitions") + 1]), configs)
    return found


# --- every file parses --------------------------------------------------------------------


def test_every_yaml_file_in_deploy_parses_into_mappings():
    files = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    assert {f.relative_to(DEPLOY).as_posix() for f in files} >= {
        "compose.yaml",
        "prometheus.yml",
        "k8s/kustomization.yaml",
        "k8s/topics.yaml",
    }
    for path in files:
        docs = load_all(path)
        assert docs, f"{path} is empty"
        assert all(isinstance(doc, dict) for doc in docs), path


def test_the_settings_list_is_built_from_the_code():
    assert {"KAFKA_BOOTSTRAP_SERVERS", "KAFKA_ENABLE_IDEMPOTENCE", "REGISTRY_TOKEN_SECRET", "CONSUMER_MAX_ATTEMPTS"} <= KNOWN_ENV
    assert "REGISTRY_KAFKA" not in KNOWN_ENV


# --- Dockerfile ---------------------------------------------------------------------------


def test_the_dockerfile_builds_one_non_root_image_running_pairing():
    instructions = parse_dockerfile(DEPLOY / "Dockerfile")
    keywords = [k for k, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert keywords.count("FROM") == 1
    users = [args for k, args in instructions if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN"), "install as root, run as the user"
    assert any(k == "RUN" and re.search(r"\bpip install \.(\s|$)", args) for k, args in instructions)
    assert json.loads(dict(instructions)["ENTRYPOINT"]) == ["pairing"]
    assert json.loads(dict(instructions)["CMD"]) == ["serve", "registry"]


def test_the_dockerfile_copies_files_that_exist_and_sets_only_known_settings():
    for keyword, args in parse_dockerfile(DEPLOY / "Dockerfile"):
        if keyword == "COPY":
            *sources, _target = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        if keyword == "ENV":
            for name in re.findall(r"(\w+)=", args):
                assert name.startswith(("PYTHON", "PIP_")) or name in KNOWN_ENV, f"ENV {name} is read by no code"


def test_the_docker_build_context_leaves_out_local_state():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", "var"} <= ignored
    # What the Dockerfile copies must not be ignored.
    assert not {"pyproject.toml", "README.md", "schemas", "services"} & ignored


# --- compose ------------------------------------------------------------------------------


def test_compose_runs_the_three_services_from_the_dockerfile():
    spec = compose()
    services = pairing_services(spec)
    assert set(services) == set(SERVICES)
    for name, svc in services.items():
        assert svc["command"] == ["serve", name]
        assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
        depends = svc["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
    assert services["matcher"]["deploy"]["replicas"] == 2
    assert services["notifier"]["deploy"]["replicas"] == 2
    assert "registry" in services and "8000:8000" in services["registry"]["ports"]


def longest_stop_seconds() -> float:
    """The longest a service takes to stop when every background job uses its whole grace: the notifier's
    scheduler (with its other jobs, at once), then its metrics sampler and its outbox relay."""
    return SCHEDULER_GRACE + MetricsSampler.grace_seconds + Background.grace_seconds


def test_every_service_is_given_time_to_finish_the_work_in_hand_on_stopping():
    for name, svc in pairing_services(compose()).items():
        assert svc["stop_grace_period"].endswith("s"), name
        assert float(svc["stop_grace_period"][:-1]) >= longest_stop_seconds() + 10, name
    for deployment in k8s_kind("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] >= longest_stop_seconds() + 10, deployment["metadata"]["name"]


def test_compose_runs_one_kafka_broker_in_kraft_mode():
    spec = compose()
    kafka = spec["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert not any("ZOOKEEPER" in name for name in env)
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "SASL_SSL://kafka:9095" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    for name, svc in pairing_services(spec).items():
        assert svc["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9095", name


def test_compose_services_sign_in_over_tls_with_the_password_from_a_file():
    spec = compose()
    certs = "\n".join(spec["services"]["kafka-certs"]["command"])
    # The services trust the authority kafka-certs makes, and read the password kafka-configs gave the user.
    assert "-file /etc/kafka-ca/ca.pem" in certs and "SAN=dns:kafka," in certs
    user = "\n".join(spec["services"]["topics"]["command"])
    assert '--entity-name pairing --add-config "SCRAM-SHA-512=[password=$$(cat /run/secrets/kafka_password)]"' in user
    assert spec["secrets"]["kafka_password"]["file"] == "./secrets/kafka-password"
    for name, svc in pairing_services(spec).items():
        env = svc["environment"]
        assert (env["KAFKA_SECURITY_PROTOCOL"], env["KAFKA_SASL_MECHANISM"]) == ("SASL_SSL", "SCRAM-SHA-512"), name
        assert env["KAFKA_SASL_USERNAME"] == "pairing" and "KAFKA_SASL_PASSWORD" not in env, name
        assert svc["secrets"] == ["kafka_password"] and env["KAFKA_SASL_PASSWORD_FILE"] == "/run/secrets/kafka_password"
        assert f"kafka-ca:{env['KAFKA_SSL_CA_FILE'].rsplit('/', 1)[0]}:ro" in svc["volumes"], name


def test_compose_turns_on_the_idempotent_producer_for_every_service():
    for name, svc in pairing_services(compose()).items():
        assert svc["environment"]["KAFKA_ENABLE_IDEMPOTENCE"] == "true", name
        assert svc["environment"]["KAFKA_ACKS"] == "all", name


def test_compose_sets_only_settings_the_code_reads_as_strings():
    for name, svc in pairing_services(compose()).items():
        env = svc["environment"]
        assert set(env) <= KNOWN_ENV, f"{name}: {sorted(set(env) - KNOWN_ENV)} are read by no code"
        assert all(isinstance(value, str) for value in env.values()), name
        assert all(key.startswith(("KAFKA_", "CONSUMER_", name.upper() + "_")) for key in env), name


def test_compose_gives_every_service_its_own_database_made_by_the_init_script():
    spec = compose()
    sql = (DEPLOY / "postgres-init" / "01-databases.sql").read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+);", sql))
    assert created == set(SERVICES)
    for name, svc in pairing_services(spec).items():
        # Compose fills in ${...} from the environment; stand a plain word in for it here.
        url = urlsplit(re.sub(r"\$\{[^}]*\}", "secret", svc["environment"][f"{name.upper()}_DATABASE_URL"]))
        assert url.scheme == "postgresql" and url.hostname == "postgres"
        assert url.path == f"/{name}"
    postgres = spec["services"]["postgres"]
    assert postgres["image"] == "postgres:16"
    assert "./postgres-init:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]


def test_compose_takes_secrets_from_the_environment_not_the_file():
    for name, svc in pairing_services(compose()).items():
        for key, value in svc["environment"].items():
            if key.endswith(("_ENCRYPTION_KEYS", "_TOKEN_SECRET")):
                assert re.fullmatch(r"\$\{" + key + r":\?[^}]+\}", value), f"{name}: {key} must come from the environment"


def test_compose_creates_exactly_the_topics_of_schemas_topics():
    topics = compose()["services"]["topics"]
    assert topics["image"] == compose()["services"]["kafka"]["image"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = "\n".join(topics["command"])
    assert topic_commands(script) == EXPECTED_TOPICS


def test_compose_sends_mail_to_the_local_catcher_and_mounts_files_that_exist():
    spec = compose()
    notifier = spec["services"]["notifier"]["environment"]
    assert notifier["NOTIFIER_SMTP_HOST"] == "mailpit"
    assert spec["services"]["mailpit"]["image"].startswith("axllent/mailpit:")
    for name, svc in spec["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which does not exist"


def test_prometheus_scrapes_every_service_where_it_serves_metrics():
    config = load_one(DEPLOY / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(SERVICES)
    # The registry mounts its metrics on its API port; the others answer on OPS_PORT (default 9100).
    where = {"registry": ("/metrics/", 8000), "matcher": ("/metrics", 9100), "notifier": ("/metrics", 9100)}
    for name, job in jobs.items():
        assert (job.get("metrics_path", "/metrics"), job["dns_sd_configs"][0]["port"]) == where[name]
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [name]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in compose()["services"]["prometheus"]["volumes"]


# --- kubernetes ---------------------------------------------------------------------------


def test_the_kustomization_lists_files_that_exist_and_names_the_image():
    kustomization = load_one(K8S / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    assert "secret.yaml" not in kustomization["resources"], "the template must not overwrite the real Secret"
    images = {image["name"] for image in kustomization["images"]}
    for deployment in k8s_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["image"] in images


def test_k8s_has_one_deployment_per_service_running_as_non_root():
    deployments = {d["metadata"]["name"]: d for d in k8s_kind("Deployment")}
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        spec = deployment["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items(), name
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["args"] == ["serve", name]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_k8s_settings_and_secrets_are_ones_the_code_reads():
    (configmap,) = k8s_kind("ConfigMap")
    (secret,) = k8s_kind("Secret")
    for resource, values in ((configmap, configmap["data"]), (secret, secret["stringData"])):
        assert set(values) <= KNOWN_ENV, f"{resource['kind']}: {sorted(set(values) - KNOWN_ENV)} are read by no code"
        assert all(isinstance(v, str) for v in values.values()), f"{resource['kind']} values must be strings"
    assert configmap["data"]["KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    assert configmap["data"]["KAFKA_REPLICATION_FACTOR"] == "3"
    assert all("CHANGE-ME" in value for value in secret["stringData"].values()), "the template holds placeholders only"
    for deployment in k8s_kind("Deployment"):
        name = deployment["metadata"]["name"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": configmap["metadata"]["name"]}}]
        for var in container.get("env", []):
            assert var["name"] in KNOWN_ENV and var["name"].startswith(name.upper() + "_"), var["name"]
            ref = var["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
        required = {f"{name.upper()}_DATABASE_URL"} | {k for k in secret["stringData"] if k.startswith(name.upper() + "_")}
        assert {var["name"] for var in container.get("env", [])} == required


def test_k8s_registry_is_served_and_probed_on_health():
    (deployment,) = [d for d in k8s_kind("Deployment") if d["metadata"]["name"] == "registry"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    (configmap,) = k8s_kind("ConfigMap")
    assert ports["http"] == int(configmap["data"]["REGISTRY_HTTP_PORT"])
    assert configmap["data"]["REGISTRY_HTTP_HOST"] == "0.0.0.0"
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    # Alive without the database, so a database outage does not restart every instance.
    assert container["livenessProbe"]["httpGet"] == {"path": "/live", "port": "http"}
    (service,) = k8s_kind("Service")
    assert service["metadata"]["name"] == "registry"
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


def test_k8s_kafka_topics_are_exactly_the_topics_of_schemas_topics():
    topics = k8s_kind("KafkaTopic")
    found = {}
    for topic in topics:
        assert topic["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"]
        spec = topic["spec"]
        name = spec.get("topicName", topic["metadata"]["name"])
        assert spec["replicas"] == 3, name
        config = {key: str(value) for key, value in spec.get("config", {}).items()}
        assert config.get("cleanup.policy", "delete") in ("compact", "delete"), name
        if config.get("cleanup.policy") == "delete":
            del config["cleanup.policy"]  # Kafka's default, written out for readers
        assert name not in found
        found[name] = (spec["partitions"], config)
    assert found == EXPECTED_TOPICS
    clusters = {t["metadata"]["labels"]["strimzi.io/cluster"] for t in topics}
    (configmap,) = k8s_kind("ConfigMap")
    assert {f"{c}-kafka-bootstrap:9093" for c in clusters} == {configmap["data"]["KAFKA_BOOTSTRAP_SERVERS"]}


def test_k8s_services_sign_in_as_a_strimzi_kafka_user_with_its_secret_and_the_cluster_ca():
    (user,) = k8s_kind("KafkaUser")
    assert user["apiVersion"] == "kafka.strimzi.io/v1beta2"
    assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
    cluster = user["metadata"]["labels"]["strimzi.io/cluster"]
    (configmap,) = k8s_kind("ConfigMap")
    settings = configmap["data"]
    assert (settings["KAFKA_SECURITY_PROTOCOL"], settings["KAFKA_SASL_MECHANISM"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert settings["KAFKA_SASL_USERNAME"] == user["metadata"]["name"]
    assert {"KAFKA_SSL_CA_FILE", "KAFKA_SASL_PASSWORD_FILE"} <= KNOWN_ENV
    # Strimzi names the user's Secret after it (key "password") and the cluster's CA "<cluster>-cluster-ca-cert".
    wanted = {
        settings["KAFKA_SASL_PASSWORD_FILE"]: (user["metadata"]["name"], "password"),
        settings["KAFKA_SSL_CA_FILE"]: (f"{cluster}-cluster-ca-cert", "ca.crt"),
    }
    for deployment in k8s_kind("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        volumes = {v["name"]: v["secret"] for v in pod["volumes"]}
        files = {}
        for mount in container["volumeMounts"]:
            assert mount["readOnly"] is True
            secret = volumes[mount["name"]]
            for item in secret["items"]:
                files[f"{mount['mountPath']}/{item['path']}"] = (secret["secretName"], item["key"])
        assert files == wanted, deployment["metadata"]["name"]
