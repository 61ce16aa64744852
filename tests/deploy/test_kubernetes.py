"""deploy/kubernetes/*.yaml: valid against the Kubernetes JSON schemas (bundled
offline by kubernetes-validate), and consistent with what the server really
serves: the probe paths answer on the port the command binds, and the grace
period outlasts preStop + --graceful-timeout."""

from __future__ import annotations

import copy

import httpx
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from conftest import ROOT, SLOW, free_port

from frostfork.cli import build_parser

MANIFESTS = ROOT / "deploy" / "kubernetes"
# The oldest and the newest schemas the validator bundles: the manifests use
# nothing newer than 1.25 has.
VERSIONS = ("1.25.0", latest_version())


def documents() -> list[dict]:
    docs = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def one(kind: str) -> dict:
    found = [d for d in documents() if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container() -> dict:
    containers = one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def serve_args():
    command = container()["command"] + container().get("args", [])
    assert command[0] == "frostfork"
    args = build_parser().parse_args(command[1:])  # fails on any flag the CLI lacks
    assert args.command == "serve"
    return args


def named_port(name: str) -> int:
    return next(p["containerPort"] for p in container()["ports"] if p["name"] == name)


def resolve(port) -> int:
    return port if isinstance(port, int) else named_port(port)


@pytest.mark.parametrize("version", VERSIONS)
def test_manifests_are_valid(version):
    kinds = []
    for doc in documents():
        kubernetes_validate.validate(doc, version, strict=True)
        kinds.append(doc["kind"])
    assert sorted(kinds) == ["Deployment", "Service"]


def test_the_validator_really_validates():
    """A broken copy must fail, or the test above proves nothing."""
    for mutate in (lambda d: d["spec"].__setitem__("replicas", "three"),
                   lambda d: d["spec"]["template"]["spec"]["containers"][0]
                   .__setitem__("readinessProb", {})):
        doc = copy.deepcopy(one("Deployment"))
        mutate(doc)
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(doc, latest_version(), strict=True)


def test_deployment_shape():
    deployment = one("Deployment")
    assert deployment["spec"]["replicas"] == 3
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = one("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert serve_args().workers >= 2
    resources = container()["resources"]
    assert resources["requests"]["memory"] and resources["limits"]["memory"]


def test_probes_point_at_the_port_the_command_binds():
    args = serve_args()
    host, _, port = args.bind.rpartition(":")
    assert host == "0.0.0.0", "bind all interfaces, or the kubelet cannot probe"
    c = container()
    assert resolve(c["readinessProbe"]["httpGet"]["port"]) == int(port)
    assert resolve(c["livenessProbe"]["httpGet"]["port"]) == int(port)
    assert c["readinessProbe"]["httpGet"]["path"] == "/_frostfork/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/_frostfork/health"
    if "startupProbe" in c:
        assert resolve(c["startupProbe"]["httpGet"]["port"]) == int(port)
    service_port = one("Service")["spec"]["ports"][0]
    assert resolve(service_port["targetPort"]) == int(port)
    if args.metrics_bind:
        assert named_port("metrics") == int(args.metrics_bind.rpartition(":")[2])


def test_grace_period_outlasts_prestop_and_the_drain():
    spec = one("Deployment")["spec"]["template"]["spec"]
    pre_stop = container()["lifecycle"]["preStop"]
    if "sleep" in pre_stop:
        pre_stop_seconds = pre_stop["sleep"]["seconds"]
    else:
        command = pre_stop["exec"]["command"]
        assert command[0] == "sleep"
        pre_stop_seconds = float(command[1])
    assert pre_stop_seconds > 0, "endpoints must be removed before SIGTERM starts the drain"
    grace = spec["terminationGracePeriodSeconds"]
    assert grace > serve_args().graceful_timeout
    assert grace > pre_stop_seconds + serve_args().graceful_timeout


def test_the_probes_answer_on_a_server_started_with_the_manifests_options(serve):
    """The manifest's own serve options (app and addresses swapped for a test app
    on 127.0.0.1), then the kubelet's requests: startup, liveness, readiness."""
    command = container()["command"] + container().get("args", [])
    options, i = [], 3
    while i < len(command):
        flag = command[i]
        value = command[i + 1] if i + 1 < len(command) and not command[i + 1].startswith("-") else None
        if flag in ("--bind", "-b"):
            pass                                  # the fixture binds 127.0.0.1:0
        elif flag == "--metrics-bind":
            options += [flag, f"127.0.0.1:{free_port()}"]
        elif value is not None:
            options += [flag, value]
        else:
            options.append(flag)
        i += 2 if value is not None else 1
    srv = serve("native_basic:app", *options)
    srv.wait_workers(serve_args().workers)
    c = container()
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if probe not in c:
            continue
        r = httpx.get(f"http://127.0.0.1:{srv.port}{c[probe]['httpGet']['path']}",
                      timeout=c[probe].get("timeoutSeconds", 1) * SLOW)
        assert r.status_code == 200, (probe, r.status_code, r.text)
    ready = httpx.get(f"http://127.0.0.1:{srv.port}/_frostfork/ready", timeout=5 * SLOW)
    assert ready.text == "ready"
