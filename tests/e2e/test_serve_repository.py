"""`kiln serve`'s model repository under failure and abuse (issue 10,
defects 2-4 and the model control modes).

Each test starts the real binary (serve_util.Server) and checks one
promise that the server before issue 10 broke:
- a version that failed to load (a copy still in progress) is tried again
  on later polls (--max_num_load_retries, --load_retry_interval_micros, as
  TF Serving does), and not past the retry count;
- a base path that vanishes keeps the loaded versions serving (logged
  once), and changes are picked up when it returns;
- the KServe repository load/unload API is refused unless
  --model_control_mode=explicit, and even then cannot load a base_path
  outside the model roots (a '..' path or a symbolic link out included);
- a failed load through the API leaves /v2/health/ready as it was, and
  failed loads replace each other in the registry instead of piling up.
"""
import os
import time

import numpy as np
import pytest

import serve_util as S
from serve_util import SLOW

POLL = 1  # --file_system_poll_wait_seconds


@pytest.fixture(scope="module")
def mlp(model_cache):
    return model_cache.path("mlp", "float32")


def predict(srv, model, seed=0):
    x = np.random.default_rng(seed).standard_normal((1, 16), np.float32)
    return srv.post(f"/v1/models/{model}:predict", {"instances": x.tolist()})


def write_truncated(target, model, fraction=0.5):
    """A version folder whose model.tflite is a copy cut short, as a slow
    copy leaves it while still in progress."""
    target.mkdir(parents=True, exist_ok=True)
    data = model.read_bytes()
    (target / "model.tflite").write_bytes(data[:int(len(data) * fraction)])


def complete(target, model):
    """Finishes the copy: the whole file replaces the part, atomically."""
    tmp = target / ".model.tflite.part"
    tmp.write_bytes(model.read_bytes())
    os.rename(tmp, target / "model.tflite")


# ======================================= defect 3: failed loads retried


def test_failed_version_is_retried_until_whole(kiln_bin, mlp, tmp_path):
    base = tmp_path / "models" / "mlp"
    write_truncated(base / "1", mlp)
    with S.Server(kiln_bin, [f"--model_base_path={base}", "--model_name=mlp",
                             f"--file_system_poll_wait_seconds={POLL}",
                             "--max_num_load_retries=100",
                             "--load_retry_interval_micros=200000"],
                  tmp_path / "run") as srv:
        S.wait_for(lambda: "failed to load" in srv.log(), 20 * SLOW,
                   what="the first load to fail")
        assert predict(srv, "mlp").status_code == 404
        complete(base / "1", mlp)
        srv.wait_available("mlp", 1, timeout=20)
        r = predict(srv, "mlp")
        assert r.status_code == 200, r.text
        assert "load retry" in srv.log()


def test_retries_stop_at_the_count(kiln_bin, mlp, tmp_path):
    base = tmp_path / "models" / "mlp"
    write_truncated(base / "1", mlp)
    with S.Server(kiln_bin, [f"--model_base_path={base}", "--model_name=mlp",
                             f"--file_system_poll_wait_seconds={POLL}",
                             "--max_num_load_retries=1",
                             "--load_retry_interval_micros=100000"],
                  tmp_path / "run") as srv:
        S.wait_for(lambda: "load retry 1 of 1" in srv.log()
                   and srv.log().count("failed to load") >= 2, 20 * SLOW,
                   what="the one retry to fail")
        complete(base / "1", mlp)
        time.sleep(3 * POLL * SLOW)
        assert predict(srv, "mlp").status_code == 404
        assert srv.status("mlp")[1]["state"] == "END"


# ================================== defect 4: a vanished base path


def test_vanished_base_path_keeps_serving(kiln_bin, mlp, tmp_path):
    base = tmp_path / "models" / "mlp"
    S.add_version(base, 1, mlp)
    with S.Server(kiln_bin, [f"--model_base_path={base}", "--model_name=mlp",
                             f"--file_system_poll_wait_seconds={POLL}"],
                  tmp_path / "run") as srv:
        srv.wait_available("mlp", 1)
        away = tmp_path / "models" / "away"
        os.rename(base, away)
        time.sleep(3.5 * POLL * SLOW)  # several polls without the folder
        r = predict(srv, "mlp")
        assert r.status_code == 200, r.text
        assert srv.get("/v2/health/ready").status_code == 200
        assert srv.log().count("cannot be read") == 1  # once, not per poll
        # It comes back with a new version: picked up, the old one goes.
        S.add_version(away, 2, mlp)
        os.rename(away, base)
        srv.wait_available("mlp", 2, timeout=20)
        S.wait_for(lambda: 1 not in srv.status("mlp"), 10 * SLOW,
                   what="version 1 unloaded")
        assert "is back" in srv.log()
        assert predict(srv, "mlp").status_code == 200


# ============================ defect 2: the repository API locked down


def _config(tmp_path, mlp):
    root = tmp_path / "models"
    S.add_version(root / "mlp", 1, mlp)
    config = tmp_path / "models.config"
    config.write_text(S.model_config({"mlp": root / "mlp"}))
    return root, config


@pytest.mark.parametrize("mode", [None, "none", "poll"])
def test_repository_api_refused_unless_explicit(kiln_bin, mlp, tmp_path,
                                                mode):
    root, config = _config(tmp_path, mlp)
    S.add_version(root / "extra", 1, mlp)
    args = [f"--model_config_file={config}",
            f"--file_system_poll_wait_seconds={POLL}"]
    if mode:
        args.append(f"--model_control_mode={mode}")
    with S.Server(kiln_bin, args, tmp_path / "run") as srv:
        srv.wait_available("mlp", 1)
        r = srv.post("/v2/repository/models/mlp/unload")
        assert r.status_code == 400, r.text
        assert "model_control_mode" in r.json()["error"]
        r = srv.post("/v2/repository/models/extra/load",
                     {"parameters": {"base_path": str(root / "extra")}})
        assert r.status_code == 400, r.text
        time.sleep(1.5 * POLL * SLOW)
        assert predict(srv, "mlp").status_code == 200
        assert predict(srv, "extra").status_code == 404


def test_single_model_default_refuses_repository_api(kiln_bin, mlp, tmp_path):
    base = tmp_path / "models" / "mlp"
    S.add_version(base, 1, mlp)
    with S.Server(kiln_bin, [f"--model_base_path={base}", "--model_name=mlp"],
                  tmp_path / "run") as srv:
        srv.wait_available("mlp", 1)
        assert srv.post("/v2/repository/models/mlp/unload").status_code == 400
        assert predict(srv, "mlp").status_code == 200


def test_explicit_load_confined_to_model_roots(kiln_bin, mlp, tmp_path):
    root, config = _config(tmp_path, mlp)
    outside = tmp_path / "outside" / "secret"
    S.add_version(outside, 1, mlp)
    os.symlink(outside, root / "escape")
    S.add_version(tmp_path / "repo" / "extra", 1, mlp)
    with S.Server(kiln_bin, [f"--model_config_file={config}",
                             "--model_control_mode=explicit",
                             f"--model_repository={tmp_path / 'repo'}",
                             f"--file_system_poll_wait_seconds={POLL}"],
                  tmp_path / "run") as srv:
        srv.wait_available("mlp", 1)
        for path in (outside, root / "escape",
                     root / "mlp" / ".." / ".." / "outside" / "secret",
                     tmp_path / "repo" / ".." / "outside" / "secret"):
            r = srv.post("/v2/repository/models/secret/load",
                         {"parameters": {"base_path": str(path)}})
            assert r.status_code == 403, (path, r.text)
            assert str(tmp_path) not in r.json()["error"]
            assert predict(srv, "secret").status_code == 404
        # A name that climbs out of --model_repository is refused too.
        r = srv.post("/v2/repository/models/../load")
        assert r.status_code in (403, 404), r.text
        # Under --model_repository, by name alone: loads and serves.
        r = srv.post("/v2/repository/models/extra/load")
        assert r.status_code == 200, r.text
        assert predict(srv, "extra").status_code == 200
        # Unload and load back a configured model: allowed in explicit.
        assert srv.post("/v2/repository/models/mlp/unload").status_code == 200
        assert predict(srv, "mlp").status_code == 404
        assert srv.post("/v2/repository/models/mlp/load").status_code == 200
        assert predict(srv, "mlp").status_code == 200


def test_failed_load_keeps_ready_and_registry_bounded(kiln_bin, mlp,
                                                      tmp_path):
    root, config = _config(tmp_path, mlp)
    repo = tmp_path / "repo"
    for i in range(6):
        write_truncated(repo / f"bad{i}" / "1", mlp)
    with S.Server(kiln_bin, [f"--model_config_file={config}",
                             "--model_control_mode=explicit",
                             f"--model_repository={repo}",
                             f"--file_system_poll_wait_seconds={POLL}"],
                  tmp_path / "run") as srv:
        srv.wait_available("mlp", 1)
        assert srv.get("/v2/health/ready").status_code == 200
        for i in range(6):
            r = srv.post(f"/v2/repository/models/bad{i}/load")
            assert r.status_code >= 400, r.text
            assert srv.get("/v2/health/ready").status_code == 200
        time.sleep(1.5 * POLL * SLOW)
        assert srv.get("/v2/health/ready").status_code == 200
        index = srv.post("/v2/repository/index").json()
        names = {m["name"] for m in index}
        assert "mlp" in names
        assert len(names - {"mlp"}) <= 1, names
        assert predict(srv, "mlp").status_code == 200
