"""deploy/: the Kubernetes manifests and KubeRay examples, and the Ray Serve application.

What a cluster would do with the manifests cannot be run here (no cluster, no
registry), so they are rendered (`kubectl kustomize`, offline) and validated: every
object against the Kubernetes API's own schemas in strict mode (`kubernetes-validate`),
the KubeRay objects against KubeRay's CRD schemas vendored in tests/data/deploy
(`check-jsonschema`), and the settings they set against rewardgate's `Settings`. The
Ray Serve application is run for real: two replicas on a local Ray cluster behind
Serve's HAProxy ingress, one replica killed mid-load, then a burst past the
backpressure limits.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from rewardgate.service.settings import Settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
SCHEMAS = ROOT / "tests" / "data" / "deploy"
KUBECTL = shutil.which("kubectl")
BIN = Path(sys.executable).parent
# The oldest Kubernetes the manifests promise to work on: hostUsers and the pod-level
# appArmorProfile field (the sandbox pool) are GA/beta from 1.30.
KUBERNETES_VERSIONS = ("1.30.0", "1.33.0")
KUSTOMIZATIONS = ("kubernetes/base", "kubernetes/overlays/example")


def render(kustomization: str) -> list[dict[str, Any]]:
    """`kubectl kustomize` of a folder under deploy/: offline, no cluster contacted."""
    assert KUBECTL is not None, "these tests need kubectl on PATH (it renders offline)"
    out = subprocess.run(
        [KUBECTL, "kustomize", str(DEPLOY / kustomization)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def by_kind(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [first, *_] = deployment["spec"]["template"]["spec"]["containers"]
    return first  # type: ignore[no-any-return]


# -- Kubernetes ----------------------------------------------------------------------------


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_validates_strictly(kustomization: str, version: str) -> None:
    objects = render(kustomization)
    assert len(objects) >= 12
    for obj in objects:
        # Raises ValidationError naming the field; strict rejects unknown fields too.
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_validator_catches_a_misspelt_field() -> None:
    """The strict validation above can fail: a typo in a probe is refused."""
    probe = {"httpGet": {"path": "/readyz", "port": 8000}, "periodSecond": 5}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i", "readinessProbe": probe}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, "1.33.0", strict=True)


def test_the_gateway_probes_scales_and_survives_drains() -> None:
    objects = by_kind(render("kubernetes/base"))
    gateway = objects[("Deployment", "rewardgate-gateway")]
    main = container(gateway)
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    service = objects[("Service", "rewardgate-gateway")]
    assert service["spec"]["selector"].items() <= labels.items()
    hpa = objects[("HorizontalPodAutoscaler", "rewardgate-gateway")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "rewardgate-gateway"
    pdb = objects[("PodDisruptionBudget", "rewardgate-gateway")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # The pods outlive the gateway's own graceful drain, so in-flight batches finish.
    drain = Settings(**settings_from(objects)).graceful_timeout_s
    assert gateway["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > drain


def settings_from(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    data = objects[("ConfigMap", "rewardgate-settings")]["data"]
    return {key.removeprefix("REWARDGATE_").lower(): value for key, value in data.items()}


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_setting_the_manifests_set_is_a_valid_setting(kustomization: str) -> None:
    """A misspelt REWARDGATE_* key would be ignored by the pods; Settings forbids extras."""
    objects = by_kind(render(kustomization))
    settings = settings_from(objects)
    for kind, name in objects:
        if kind == "Deployment" and name != "rewardgate-redis":
            for env in container(objects[(kind, name)]).get("env", []):
                settings[env["name"].removeprefix("REWARDGATE_").lower()] = env["value"]
    Settings(**settings)  # raises on an unknown name or a bad value


def test_sandbox_pods_reach_only_dns_and_redis() -> None:
    objects = by_kind(render("kubernetes/base"))
    sandbox = objects[("Deployment", "rewardgate-sandbox")]
    policy = objects[("NetworkPolicy", "rewardgate-sandbox")]
    labels = sandbox["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert "Egress" in policy["spec"]["policyTypes"]
    allowed = set()
    for rule in policy["spec"]["egress"]:
        ports = {p["port"] for p in rule["ports"]}
        for peer in rule["to"]:
            assert "ipBlock" not in peer, "no address ranges: only named pods"
            allowed.add((tuple(sorted(peer["podSelector"]["matchLabels"].items())), *ports))
    assert allowed == {
        ((("k8s-app", "kube-dns"),), 53),
        ((("app.kubernetes.io/name", "rewardgate-redis"),), 6379),
    }
    # bwrap's user namespace, and root in the pod not root on the node.
    assert sandbox["spec"]["template"]["spec"]["hostUsers"] is False


def test_the_overlay_pins_the_image_and_namespaces_everything() -> None:
    objects = render("kubernetes/overlays/example")
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "rewardgate", obj["metadata"]["name"]
    images = {
        container(o)["image"]
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] != "rewardgate-redis"
    }
    assert images == {"registry.example.com/rewardgate/service:0.1.0"}


# -- Autoscaling and the shared asset store ---------------------------------------------

ADAPTER_VALUES = DEPLOY / "kubernetes" / "prometheus-adapter" / "values.yaml"


def exported_metrics(folder: Path) -> set[str]:
    """The metric families a real gateway's /metrics serves."""
    from fastapi.testclient import TestClient
    from prometheus_client.parser import text_string_to_metric_families

    from rewardgate.service.app import create_app, verifier_env
    from rewardgate.verifiers.registry import Registry
    from tests.service.probes import PROBES

    settings = Settings(workers=1, asset_dir=folder / "assets")
    app = create_app(settings, Registry(PROBES, env=verifier_env(settings)))
    with TestClient(app) as http:
        text = http.get("/metrics").text
    return {family.name for family in text_string_to_metric_families(text)}


def hpa_metrics(kustomization: str) -> list[dict[str, Any]]:
    hpa = by_kind(render(kustomization))[("HorizontalPodAutoscaler", "rewardgate-gateway")]
    return hpa["spec"]["metrics"]


def test_the_inflight_hpa_scales_on_a_metric_the_gateway_exports(tmp_path: Path) -> None:
    # The base needs no metrics pipeline: CPU alone (a missing metric blocks scale-down).
    assert [m["type"] for m in hpa_metrics("kubernetes/base")] == ["Resource"]
    metrics = hpa_metrics("kubernetes/overlays/example")
    pods = [m["pods"]["metric"]["name"] for m in metrics if m["type"] == "Pods"]
    assert pods == ["rewardgate_verifier_inflight"]
    assert "Resource" in {m["type"] for m in metrics}
    exported = exported_metrics(tmp_path)
    assert set(pods) <= exported
    # The name the HPA's comment once used is not exported: this check can fail.
    assert "rewardgate_inflight_items" not in exported
    # The adapter serves the pods' series under the very name the HPA asks for.
    [rule] = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["custom"]
    assert rule["seriesQuery"].startswith(pods[0] + "{")
    assert re.fullmatch(rule["name"]["matches"], pods[0]) and rule["name"]["as"] == pods[0]


def test_the_s3_component_sets_a_bucket_and_opens_only_the_object_store() -> None:
    base = by_kind(render("kubernetes/base"))
    example = by_kind(render("kubernetes/overlays/example"))
    settings = Settings(**settings_from(example))
    assert settings.asset_s3_bucket and settings.asset_s3_endpoint_url
    assert Settings(**settings_from(base)).asset_s3_bucket is None
    before = base[("NetworkPolicy", "rewardgate-sandbox")]["spec"]["egress"]
    after = example[("NetworkPolicy", "rewardgate-sandbox")]["spec"]["egress"]
    assert after[: len(before)] == before
    [added] = after[len(before) :]
    [peer] = added["to"]
    assert "ipBlock" not in peer
    assert peer["podSelector"]["matchLabels"] == {"rewardgate.io/asset-store": "true"}
    assert [p["port"] for p in added["ports"]] == [9000]


def compose_gateway_settings(**env: str) -> dict[str, Any]:
    """The `replicas` profile's gateway settings as `docker-compose config` renders them."""
    compose = shutil.which("docker-compose")
    assert compose is not None, "docker-compose is installed by setup (scripts/debian-packages.txt)"
    names = [k for k in os.environ if k.startswith("REWARDGATE_ASSET_S3_")]
    clean = {k: v for k, v in os.environ.items() if k not in names}
    out = subprocess.run(
        [compose, "--profile", "replicas", "config"],
        cwd=ROOT,
        env={**clean, **env},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    gateway = yaml.safe_load(out)["services"]["gateway"]["environment"]
    return {k.removeprefix("REWARDGATE_").lower(): v for k, v in gateway.items()}


def test_compose_replicas_use_the_bucket_when_one_is_set(tmp_path: Path) -> None:
    from rewardgate.service.asset_store_s3 import asset_store
    from rewardgate.verifiers.assets import attach_remote

    folder = {"asset_dir": tmp_path / "assets"}
    plain = asset_store(Settings(**{**compose_gateway_settings(), **folder}))
    assert plain.remote is None
    given = compose_gateway_settings(
        REWARDGATE_ASSET_S3_BUCKET="shared", REWARDGATE_ASSET_S3_ENDPOINT_URL="http://minio:9000"
    )
    try:
        store = asset_store(Settings(**{**given, **folder}))
        assert store.remote is not None
        assert store.remote.describe() == "s3://shared/assets/ at http://minio:9000"
    finally:
        attach_remote(tmp_path / "assets", None)


# -- KubeRay -------------------------------------------------------------------------------

KUBERAY = {"rayservice.yaml": "rayservice.schema.json", "rayjob.yaml": "rayjob.schema.json"}


def check_jsonschema(schema: Path, document: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--schemafile", str(schema), str(document)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("manifest", sorted(KUBERAY))
def test_kuberay_examples_validate_against_the_crds(manifest: str) -> None:
    done = check_jsonschema(SCHEMAS / KUBERAY[manifest], DEPLOY / "kuberay" / manifest)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("manifest", sorted(KUBERAY))
def test_the_crd_schemas_refuse_a_misspelt_field(manifest: str, tmp_path: Path) -> None:
    """The schemas can fail: a field KubeRay does not know is an error, not pruned."""
    doc = yaml.safe_load((DEPLOY / "kuberay" / manifest).read_text())
    doc["spec"]["rayClusterSpec" if "rayClusterSpec" in doc["spec"] else "rayClusterConfig"][
        "headGroupSpec"
    ]["rayStartParam"] = {}
    bad = tmp_path / manifest
    bad.write_text(yaml.safe_dump(doc))
    done = check_jsonschema(SCHEMAS / KUBERAY[manifest], bad)
    assert done.returncode != 0
    assert "rayStartParam" in done.stdout + done.stderr


def test_the_rayservice_runs_this_serve_application() -> None:
    doc = yaml.safe_load((DEPLOY / "kuberay" / "rayservice.yaml").read_text())
    serve_config = yaml.safe_load(doc["spec"]["serveConfigV2"])
    [application] = serve_config["applications"]
    module, _, attr = application["import_path"].partition(":")
    assert module == "rewardgate.service.serve_app"
    assert attr in ("app", "build_app")
    settings = {k: v for k, v in application.get("args", {}).items() if k not in SERVE_ARGS}
    Settings(**settings)


SERVE_ARGS = {"num_replicas", "max_ongoing_requests", "max_queued_requests", "num_cpus"}


def test_the_rayjob_runs_score_with_the_ray_engine() -> None:
    from click.testing import CliRunner

    from rewardgate.service.cli import main

    doc = yaml.safe_load((DEPLOY / "kuberay" / "rayjob.yaml").read_text())
    argv = doc["spec"]["entrypoint"].split()
    assert argv[:2] == ["rewardgate", "score"]
    assert argv[argv.index("--engine") + 1] == "ray"
    # The flags parse: --help after them exits 0 only when every option is known
    # (click reports an unknown option before it answers --help).
    done = CliRunner().invoke(main, [*argv[1:], "--help"])
    assert done.exit_code == 0, done.output


def test_importing_the_serve_module_imports_no_ray() -> None:
    code = (
        "import sys, rewardgate.service.serve_app as m; "
        "assert 'ray' not in sys.modules, 'ray imported'; print(m.DEPLOYMENT_DEFAULTS)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.ray
def test_the_serve_app_refuses_a_misspelt_setting_before_deploying() -> None:
    from pydantic import ValidationError

    from rewardgate.service.serve_app import build_app

    with pytest.raises(ValidationError, match="wokers"):
        build_app({"wokers": 2})
    assert build_app({"workers": 1, "num_replicas": "3"}) is not None


# -- Ray Serve -----------------------------------------------------------------------------

HEAD_IP = "127.0.0.2"
INGRESS_IP = "127.0.0.1"


@pytest.fixture(scope="module")
def serve_gateway() -> Iterator[str]:
    """Two gateway replicas (one worker each) on a one-node Ray cluster, behind Serve's
    HAProxy ingress; yields the ingress URL. Each replica takes 2 requests at a time
    and Serve queues 2 more, so a burst meets the backpressure."""
    from tests.service.test_ray_engine import cluster_pids, free_port

    temp_dir = tempfile.mkdtemp(prefix="rgsv-", dir="/tmp")  # short: socket paths
    # The node on 127.0.0.2; the ingress on 127.0.0.1, where HAProxy reaches replicas.
    port, http_port = free_port(HEAD_IP), free_port(INGRESS_IP)
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": f"{temp_dir}/haproxy/haproxy.cfg",
        "RAY_SERVE_HAPROXY_SOCKET_PATH": f"{temp_dir}/haproxy/admin.sock",
    }
    ray = str(BIN / "ray")
    start = [ray, "start", "--head", "--node-ip-address", HEAD_IP, "--port", str(port)]
    start += ["--include-dashboard=false", "--dashboard-port", str(free_port("127.0.0.1"))]
    start += ["--temp-dir", temp_dir, "--num-cpus", "4", "--disable-usage-stats"]
    subprocess.run(start, check=True, env=env, capture_output=True, timeout=180)
    try:
        deploy = (
            "import sys; from ray import serve; import ray; "
            "from rewardgate.service.serve_app import build_app; "
            f"ray.init(address='{HEAD_IP}:{port}', log_to_driver=False); "
            f"serve.start(http_options={{'host': '{INGRESS_IP}', 'port': {http_port}}}); "
            "serve.run(build_app({'num_replicas': 2, 'workers': 1, 'num_cpus': 1, "
            "'max_ongoing_requests': 2, 'max_queued_requests': 2}), "
            "name='rewardgate', route_prefix='/')"
        )
        done = subprocess.run(
            [sys.executable, "-c", deploy], env=env, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, done.stderr[-4000:]
        yield f"http://{INGRESS_IP}:{http_port}"
    finally:
        for pid in cluster_pids(temp_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)


def replica_pids() -> list[int]:
    """The Serve replica actors of the gateway, not the engine workers they fork (which
    carry the same process title)."""
    titles: dict[int, bytes] = {}
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                titles[int(entry.name)] = (entry / "cmdline").read_bytes().split(b"\0")[0]
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    title = b"ray::ServeReplica:rewardgate:rewardgate"
    return sorted(
        pid
        for pid, name in titles.items()
        if name.startswith(title) and not titles.get(parents[pid], b"").startswith(title)
    )


@pytest.mark.slow
@pytest.mark.ray
def test_serve_replica_killed_mid_load_loses_nothing(serve_gateway: str) -> None:
    from rewardgate.clients import RewardClient, RewardRequest

    # Distinct items (no cache answers them), half right and half wrong, so a lost,
    # duplicated or misplaced result shows up as a wrong reward.
    n = 400
    items = [
        RewardRequest(
            verifier="math",
            response=f"so the answer is \\boxed{{{i if i % 2 else i + 1}}}",
            reference=str(i),
            id=str(i),
        )
        for i in range(n)
    ]
    before = replica_pids()
    assert len(before) == 2, before
    chunks = [items[i : i + 4] for i in range(0, n, 4)]
    with RewardClient(serve_gateway, timeout=60) as client, ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(client.score_batch, chunk) for chunk in chunks]
        # A quarter done: batches are in flight on both replicas; kill one of them.
        while sum(f.done() for f in futures) < len(futures) // 4:
            time.sleep(0.05)
        os.kill(before[0], signal.SIGKILL)
        assert sum(f.done() for f in futures) < len(futures), "killed after the load"
        results = [result for f in futures for result in f.result()]
    assert [r.id for r in results] == [str(i) for i in range(n)]
    assert [r.status for r in results] == ["ok"] * n
    assert [r.reward for r in results] == [1.0 if i % 2 else 0.0 for i in range(n)]
    # Serve replaced the replica, and the survivor kept serving.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(set(replica_pids()) - {before[0]}) < 2:
        time.sleep(1)
    assert len(set(replica_pids()) - {before[0]}) == 2


@pytest.mark.slow
@pytest.mark.ray
def test_serve_turns_a_burst_away_with_429_and_retry_after(serve_gateway: str) -> None:
    """Past max_ongoing_requests and max_queued_requests, Serve answers 429 with
    Retry-After (the clients' overload signal), never an unbounded queue; what it
    admits is scored."""
    import httpx

    def post(k: int) -> httpx.Response:
        # Distinct items in every request: none is answered from the cache.
        body = {
            "items": [
                {"verifier": "math", "response": f"\\boxed{{{k + j}}}", "reference": f"{k}+{j}"}
                for j in range(40)
            ]
        }
        return httpx.post(f"{serve_gateway}/v1/rewards", json=body, timeout=120)

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(post, range(24)))
    codes = sorted({a.status_code for a in answers})
    assert codes == [200, 429], codes
    for answer in answers:
        if answer.status_code == 429:
            assert float(answer.headers["retry-after"]) >= 1
        else:
            results = answer.json()["results"]
            assert [(r["status"], r["reward"]) for r in results] == [("ok", 1.0)] * 40
