"""Fake Phase E trainer for npzguard's hand-off tests (python stdlib only).

Mimics the command line, stdout, train.log and training_manifest.json / skip_summary.json of
PtychoPINN's ``python -m studies.fly64_dose_overlap.training`` (study spec sections 6-8) without
touching any dataset content: inputs are only checked for existence, like the reference plan.

Behaviour is controlled by environment variables:

  FAKE_TRAINER_FAIL="<view>:<dose_int>[,...]"  those jobs end with result status "failed"
                                                (the process still exits 0, like the reference)
  FAKE_TRAINER_EXIT="<code>" or "<view>:<dose_int>=<code>[,...]"
                                                exit with that code after the job loop, before
                                                any manifest is written
  FAKE_TRAINER_SLEEP="<seconds>"                sleep that long inside every job
  FAKE_TRAINER_BUNDLE_BYTES="<n>"               bundle size (default 4096)
  FAKE_TRAINER_BAD_SHA="<view>:<dose_int>[,...]"
                                                report a wrong bundle SHA-256 for those jobs
  FAKE_TRAINER_NAN_LOSS="1"                     final_loss is NaN (Python json emits a bare NaN)
  FAKE_TRAINER_EVENTS="<file>"                  append one JSON line per job start and end with
                                                pid, view, dose, gridsize, CUDA_VISIBLE_DEVICES,
                                                time.time(), and the absolute path and SHA-256
                                                of the train and test files it read

Like the real trainer, it resolves its --phase-*-root arguments relative to its own working
directory and reads its train and test files (every byte, hashed), so a test can tell which
files a job really trained on.
"""

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
from pathlib import Path

DOSES = [1e3, 1e4, 1e5]
VIEWS = ("baseline", "dense", "sparse")


def _utc_stamp():
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return now.isoformat() + "Z"


def _job_key(view, dose):
    return "%s:%d" % (view, int(dose))


def _key_set(name):
    raw = os.environ.get(name, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _exit_code_for(view, dose):
    raw = os.environ.get("FAKE_TRAINER_EXIT", "").strip()
    if not raw:
        return None
    if raw.lstrip("-").isdigit():
        return int(raw)
    for part in raw.split(","):
        if "=" in part:
            key, code = part.split("=", 1)
            if key.strip() == _job_key(view, dose):
                return int(code)
    return None


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _event(kind, job):
    target = os.environ.get("FAKE_TRAINER_EVENTS")
    if not target:
        return
    line = json.dumps({
        "event": kind,
        "pid": os.getpid(),
        "view": job["view"],
        "dose": job["dose"],
        "gridsize": job["gridsize"],
        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "time": time.time(),
        "train": str(Path(job["train"]).resolve()),
        "test": str(Path(job["test"]).resolve()),
        "train_sha256": job.get("train_sha256"),
        "test_sha256": job.get("test_sha256"),
    }) + "\n"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def _enumerate(c_root, d_root, a_root, doses):
    jobs, skipped = [], []
    for dose in doses:
        tag = "dose_%d" % int(dose)
        train = c_root / tag / "patched_train.npz"
        test = c_root / tag / "patched_test.npz"
        if not train.exists():
            raise FileNotFoundError("Training dataset not found: %s" % train)
        if not test.exists():
            raise FileNotFoundError("Test dataset not found: %s" % test)
        art = a_root / tag / "baseline" / "gs1"
        jobs.append(dict(dose=dose, view="baseline", gridsize=1, train=train, test=test, artifact_dir=art))
        for view in ("dense", "sparse"):
            vdir = d_root / tag / view
            tr = vdir / ("%s_train.npz" % view)
            te = vdir / ("%s_test.npz" % view)
            if not tr.exists():
                tr = vdir / "train.npz"
            if not te.exists():
                te = vdir / "test.npz"
            if not (tr.exists() and te.exists()):
                reason = ("NPZ files not found (train=%s, test=%s). Checked primary (%s_train.npz/%s_test.npz) "
                          "and fallback (train.npz/test.npz)." % (tr.exists(), te.exists(), view, view))
                skipped.append(dict(dose=dose, view=view, reason=reason))
                continue
            art = a_root / tag / view / "gs2"
            jobs.append(dict(dose=dose, view=view, gridsize=2, train=tr, test=te, artifact_dir=art))
    return jobs, skipped


def _run_job(job, backend):
    art = job["artifact_dir"]
    art.mkdir(parents=True, exist_ok=True)
    log_path = art / "train.log"
    log_path.touch()
    dose, view, gs = job["dose"], job["view"], job["gridsize"]
    # Read the data, as the real trainer does (its loader opens both files).
    job["train_sha256"] = _sha256(job["train"])
    job["test_sha256"] = _sha256(job["test"])
    with open(log_path, "a", encoding="utf-8") as log:
        log.write("=" * 80 + "\n")
        log.write("Phase E5 Training Execution \u2014 %s (dose=%s, gridsize=%d, backend=%s)\n"
                  % (view, format(dose, ".0e"), gs, backend))
        log.write("=" * 80 + "\n")
        log.write("Train dataset: %s\n" % job["train"])
        log.write("Test dataset: %s\n" % job["test"])
        log.write("Output directory: %s\n" % art)
        log.write("Gridsize: %d\n" % gs)
        log.write("nphotons: %s\n" % dose)
        log.write("Backend: %s\n" % backend)
        log.write("Train dataset SHA256: %s\n" % job["train_sha256"])
        log.write("Test dataset SHA256: %s\n" % job["test_sha256"])
        log.flush()
        _event("start", job)
        sleep = float(os.environ.get("FAKE_TRAINER_SLEEP", "0") or 0)
        if sleep > 0:
            time.sleep(sleep)
        if _job_key(view, dose) in _key_set("FAKE_TRAINER_FAIL"):
            log.write("Training failed: RuntimeError: fake trainer failure\n")
            return {"status": "failed", "error": "Training failed: RuntimeError: fake trainer failure"}
        bundle = art / "wts.h5.zip"
        data = os.urandom(int(os.environ.get("FAKE_TRAINER_BUNDLE_BYTES", "4096")))
        with open(bundle, "wb") as fh:
            fh.write(data)
        digest = hashlib.sha256()
        with open(bundle, "rb") as fh:
            for chunk in iter(lambda: fh.read(65536), b""):
                digest.update(chunk)
        sha = digest.hexdigest()
        if _job_key(view, dose) in _key_set("FAKE_TRAINER_BAD_SHA"):
            sha = "0" * 64
        size = bundle.stat().st_size
        loss = float("nan") if os.environ.get("FAKE_TRAINER_NAN_LOSS") == "1" else 0.125
        log.write("Bundle saved: %s\n" % bundle)
        log.write("Bundle SHA256: %s\n" % sha)
        log.write("Bundle size: %d bytes\n" % size)
        log.write("Training completed successfully\n")
        log.write("Final loss: %s\n" % loss)
        log.write("Epochs completed: 2\n")
        log.write("Checkpoint path: None\n")
        log.write("Bundle path: %s\n" % bundle)
        log.write("Bundle SHA256: %s\n" % sha)
        log.write("Bundle size: %d bytes\n" % size)
    return {
        "status": "success",
        "final_loss": loss,
        "epochs_completed": 2,
        "checkpoint_path": None,
        "bundle_path": "wts.h5.zip",
        "bundle_sha256": sha,
        "bundle_size_bytes": size,
        "training_results": {"history": {"train_loss": [0.5, loss]}},
        "_bundle_abs": str(bundle),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description="fake Phase E trainer")
    p.add_argument("--phase-c-root", type=Path, required=True)
    p.add_argument("--phase-d-root", type=Path, required=True)
    p.add_argument("--artifact-root", type=Path, required=True)
    p.add_argument("--dose", type=float, default=None)
    p.add_argument("--view", choices=list(VIEWS), default=None)
    p.add_argument("--gridsize", type=int, choices=[1, 2], default=None)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--backend", choices=["tensorflow", "pytorch"], default="tensorflow")
    args = p.parse_args(argv)

    print("Enumerating training jobs from Phase C (%s) and Phase D (%s)..." % (args.phase_c_root, args.phase_d_root))
    print("  \u2192 Selected backend: %s" % args.backend)
    doses = [float(args.dose)] if args.dose is not None else list(DOSES)
    jobs, skipped = _enumerate(args.phase_c_root, args.phase_d_root, args.artifact_root, doses)
    print("  \u2192 %d total jobs enumerated" % len(jobs))
    if args.dose is not None:
        jobs = [j for j in jobs if j["dose"] == args.dose]
        print("  \u2192 Filtered by dose=%s: %d jobs remain" % (args.dose, len(jobs)))
    if args.view is not None:
        jobs = [j for j in jobs if j["view"] == args.view]
        print("  \u2192 Filtered by view=%s: %d jobs remain" % (args.view, len(jobs)))
    if args.gridsize is not None:
        jobs = [j for j in jobs if j["gridsize"] == args.gridsize]
        print("  \u2192 Filtered by gridsize=%d: %d jobs remain" % (args.gridsize, len(jobs)))
    if not jobs:
        print("\n\u26a0 No jobs match the specified filters. Exiting without training.")
        return 0

    args.artifact_root.mkdir(parents=True, exist_ok=True)
    print("\nExecuting %d training job(s)..." % len(jobs))
    entries = []
    exit_code = None
    for i, job in enumerate(jobs, 1):
        print("  [%d/%d] %s (dose=%s, gridsize=%d, backend=%s)"
              % (i, len(jobs), job["view"], format(job["dose"], ".0e"), job["gridsize"], args.backend))
        sys.stdout.flush()
        result = _run_job(job, args.backend)
        _event("end", job)
        result.pop("_bundle_abs", None)
        code = _exit_code_for(job["view"], job["dose"])
        if code is not None:
            exit_code = code
        entries.append({
            "dose": job["dose"], "view": job["view"], "gridsize": job["gridsize"],
            "train_data_path": str(job["train"]), "test_data_path": str(job["test"]),
            "log_path": str(job["artifact_dir"] / "train.log"), "artifact_dir": str(job["artifact_dir"]),
            "backend": args.backend, "result": result,
        })
    if exit_code is not None:
        print("fake trainer: exiting with %d" % exit_code, file=sys.stderr)
        return exit_code

    skipped_out = [{"dose": s["dose"], "view": s["view"], "reason": s["reason"]} for s in skipped]
    with open(args.artifact_root / "skip_summary.json", "w") as fh:
        json.dump({"timestamp": _utc_stamp(), "skipped_views": skipped_out, "skipped_count": len(skipped_out)},
                  fh, indent=2)
    manifest = {
        "timestamp": _utc_stamp(),
        "phase_c_root": str(args.phase_c_root),
        "phase_d_root": str(args.phase_d_root),
        "artifact_root": str(args.artifact_root),
        "filters": {"dose": args.dose, "view": args.view, "gridsize": args.gridsize},
        "dry_run": bool(args.dry_run),
        "jobs": entries,
        "skipped_views": skipped_out,
        "skipped_count": len(skipped_out),
        "skip_summary_path": "skip_summary.json",
    }
    with open(args.artifact_root / "training_manifest.json", "w") as fh:
        json.dump(manifest, fh, indent=2)
    print("\n\u2713 Training manifest written to %s" % (args.artifact_root / "training_manifest.json"))
    print("  \u2192 %d job(s) completed" % len(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
