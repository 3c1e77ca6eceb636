"""``onnxkit serve`` on a local Ray Serve instance: two exports, 2 replicas each, dynamic batching,
clear 4xx answers, a text step through the server equal to a local one, and nothing but
127.0.0.1 on any socket of any process the server started (checked while it runs). One server
for the whole module (a Ray start costs tens of seconds on 2 cores), stopped by its pid.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

pytest.importorskip("ray.serve", reason="the serve extra (Ray) is not installed")
pytest.importorskip("psutil", reason="the test extra (psutil) is not installed")
sys.path.insert(0, str(ROOT / "benchmarks"))
import local_server  # noqa: E402
import ray_serve_local as rsl  # noqa: E402

from toolkit.serve.codec import decode_inputs, to_b64  # noqa: E402

pytestmark = pytest.mark.slow

EXPORTED = ROOT / "exported"
GENERATOR, TEXT = "dcgan-mnist", "char-rnn-pydocs"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    port = local_server.free_port()
    log = tmp_path_factory.mktemp("ray-serve") / "serve.log"
    command = rsl.serve_command([EXPORTED / GENERATOR, EXPORTED / TEXT], port, "--replicas", "2",
                                "--max-batch-size", "8", "--batch-wait-ms", "100", "--threads", "1",
                                "--cpus-per-replica", "0.5")
    server = rsl.Server(command, port, log)
    try:
        server.wait_ready([GENERATOR, TEXT])
        yield server
    finally:
        killed = server.stop()
    assert not killed, f"processes outlived the server's shutdown and were killed: {killed}"


def _z(rows: int, seed: int) -> list:
    return np.random.default_rng(seed).standard_normal((rows, 100)).astype(np.float32).tolist()


def test_two_exports_are_served_by_two_replicas_each(server: rsl.Server) -> None:
    status, info = rsl.get(f"{server.base}/{TEXT}/")
    assert status == 200 and info["task"] == "text-generator" and set(info["files"]) == {"step", "prime"}
    assert info["stacked_files"] == ["step"]  # prime (a Loop over a [1, T] prompt) is never stacked
    for name, file, body in [(GENERATOR, "generator", {"inputs": {"z": _z(1, 0)}}),
                             (TEXT, "step", {"inputs": {"token": [5], "state_0": [[0.0] * 384]}})]:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: rsl.post(f"{server.base}/{name}/{file}", body), range(40)))
        assert all(status == 200 for status, _ in answers), answers[0]
        assert len({answer["batch"]["replica"] for _, answer in answers}) == 2, f"{name}: one replica answered all"


def test_concurrent_requests_share_batches_and_answers_match_local_runs(server: rsl.Server) -> None:
    from toolkit import runtime

    local = runtime.load(EXPORTED / GENERATOR).sessions["generator"]
    bodies = [_z(1 + i % 3, seed=i) for i in range(32)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda z: rsl.post(f"{server.base}/{GENERATOR}/generator", {"inputs": {"z": z}}),
                                bodies))
    assert all(status == 200 for status, _ in answers)
    sizes = [answer["batch"]["requests"] for _, answer in answers]
    assert max(sizes) > 1, f"no two requests shared a run: {sizes}"
    for z, (_, answer) in zip(bodies, answers):
        expected = local.run({"z": np.asarray(z, np.float32)})["images"]
        got = np.asarray(answer["outputs"]["images"], np.float32)
        assert got.shape == expected.shape and np.allclose(got, expected, atol=1e-5)
    stats = [rsl.get(f"{server.base}/{GENERATOR}/-/stats")[1] for _ in range(6)]
    assert any(s["max_batch"] > 1 for s in stats)
    assert all(s["requests"] >= s["runs"] for s in stats)
    # the step of many streams is stacked too (see the text test); 4 concurrent step requests
    with ThreadPoolExecutor(4) as pool:
        steps = list(pool.map(lambda t: rsl.post(f"{server.base}/{TEXT}/step",
                                                 {"inputs": {"token": [t], "state_0": [[0.0] * 384]}}), range(12)))
    assert max(answer["batch"]["requests"] for _, answer in steps) > 1


def test_a_text_step_through_the_server_equals_a_local_step(server: rsl.Server) -> None:
    """Two streams at different points, stepped together through the server (state in the request)."""
    from toolkit import runtime

    text = runtime.load(EXPORTED / TEXT)
    streams = []
    for prompt in ("def ", "import numpy as np\n"):
        logits, states = text.prime(prompt)
        streams.append((np.array([int(logits.argmax())]), states))

    def step(stream):
        token, states = stream
        return rsl.post(f"{server.base}/{TEXT}/step",
                        {"inputs": {"token": token.tolist(), "state_0": states[0].tolist()}})

    # the binary form (base64 bytes) of the same step gives the same answer bit for bit
    token, states = streams[0]
    status, lists = step(streams[0])
    status_b64, packed = rsl.post(f"{server.base}/{TEXT}/step", {"encoding": "b64", "inputs": {
        "token": to_b64(token.astype(np.int64)), "state_0": to_b64(states[0])}})
    assert status == status_b64 == 200, packed
    unpacked = decode_inputs({"inputs": packed["outputs"]}, text.sessions["step"].outputs, "answer")
    assert np.array_equal(unpacked["logits"], np.asarray(lists["outputs"]["logits"], np.float32))

    for _ in range(3):  # three steps per stream, the state going back and forth through JSON
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(step, streams))
        following = []
        for (token, states), (status, answer) in zip(streams, answers):
            assert status == 200, answer
            local_logits, local_states = text.step(token, states)
            remote_logits = np.asarray(answer["outputs"]["logits"], np.float32)
            remote_state = np.asarray(answer["outputs"]["new_state_0"], np.float32)
            assert np.allclose(remote_logits, local_logits, atol=1e-5)
            assert np.allclose(remote_state, local_states[0], atol=1e-6)
            following.append((np.array([int(remote_logits.argmax())]), [remote_state]))
        streams = following


@pytest.mark.parametrize("path, body, status, words", [
    ("generator", {"inputs": {"z": [[0.5, 0.5]]}}, 400, ["'z'", "axis 1 must be 100"]),
    ("generator", {"inputs": {"x": [[0.0] * 100]}}, 400, ["unknown input", "'x'"]),
    ("generator", {"inputs": {}}, 400, ["missing input", "'z'"]),
    ("generator", {"inputs": {"z": [[0.0] * 100, [0.0] * 99]}}, 400, ["'z'", "rectangular"]),
    ("generator", {"inputs": {"z": [["a"] * 100]}}, 400, ["'z'", "not numbers"]),
    ("generator", {"inputs": {"z": [[99.0] * 100]}}, 400, ["'z'", "outside its range"]),
    ("generator", {"z": [[0.0] * 100]}, 400, ['"inputs"', "z: float32[N, 100]"]),
    ("generator", b"{not json", 400, ["not valid JSON"]),
    ("nothing", {"inputs": {}}, 404, ["no file 'nothing'", "/generator"]),
])
def test_bad_requests_get_a_4xx_naming_the_problem(server: rsl.Server, path, body, status, words) -> None:
    got, answer = rsl.post(f"{server.base}/{GENERATOR}/{path}", body)
    assert got == status, answer
    assert all(word in answer["error"] for word in words), answer["error"]


def test_wrong_dtype_and_method_are_refused(server: rsl.Server) -> None:
    got, answer = rsl.post(f"{server.base}/{TEXT}/step", {"inputs": {"token": [1.5], "state_0": [[0.0] * 384]}})
    assert got == 400 and "whole numbers" in answer["error"] and "'token'" in answer["error"]
    got, answer = rsl.get(f"{server.base}/{TEXT}/step")
    assert got == 405 and "POST" in answer["error"]


def test_every_socket_of_the_server_is_on_loopback(server: rsl.Server) -> None:
    pids = {server.process.pid} | rsl.descendants(server.process.pid)
    assert len(pids) > 5, "expected Ray's processes (gcs, raylet, controller, proxy, replicas) under the server"
    listening = rsl.listening_sockets(pids)
    assert (rsl.LOOPBACK, server.port) in listening
    assert len(listening) > 5
    assert rsl.off_loopback_sockets(pids) == []


def test_serve_build_writes_a_ray_serve_config(tmp_path: Path) -> None:
    import yaml

    from tests.conftest import run_cli

    out = tmp_path / "serve.yaml"
    result = run_cli("serve", "build", str(EXPORTED / GENERATOR), str(EXPORTED / "face-embed"), "--replicas", "3",
                     "--max-batch-size", "32", "--out", str(out), "--host", "0.0.0.0")
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(out.read_text())
    assert config["http_options"] == {"host": "0.0.0.0", "port": 8000}
    apps = {app["name"]: app for app in config["applications"]}
    assert set(apps) == {GENERATOR, "face-embed"}
    app = apps["face-embed"]
    assert app["route_prefix"] == "/face-embed" and app["import_path"] == "toolkit.serve.deployment:build_app"
    assert app["args"]["export"] == str((EXPORTED / "face-embed").resolve()) and app["args"]["max_batch_size"] == 32
    assert app["deployments"][0]["num_replicas"] == 3
    # Ray's own schema accepts it, and the builder it names builds the deployment from its args.
    from ray.serve.schema import ServeDeploySchema

    ServeDeploySchema.model_validate(config) if hasattr(ServeDeploySchema, "model_validate") else ServeDeploySchema.parse_obj(config)
    from toolkit.serve.deployment import build_app

    assert build_app(app["args"]) is not None
    result = run_cli("serve", "build", str(EXPORTED / GENERATOR))
    assert result.returncode == 2 and "--out" in result.stderr


def test_serve_refuses_bad_arguments_before_starting_ray(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    for args, words in [
        (["serve", str(tmp_path / "missing")], "not an export directory"),
        (["serve", str(EXPORTED / GENERATOR), str(EXPORTED / GENERATOR)], "both named 'dcgan-mnist'"),
        (["serve", str(EXPORTED / GENERATOR), "--replicas", "0"], "--replicas must be at least 1"),
        (["serve", str(EXPORTED / GENERATOR), "--out", "x.yaml"], "--out goes with `onnxkit serve build"),
    ]:
        result = run_cli(*args, timeout=120)
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)
