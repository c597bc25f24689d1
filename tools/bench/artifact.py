"""Section 4: the size of each built function, as Lambda stores it (a deflate zip), because
the artifact's size is part of what a cold start downloads."""

from __future__ import annotations

import io
import subprocess
import zipfile
from typing import Any

from tools.bench.config import BUILD, ROOT, SAM, SIZE_TARGET_BYTES, TEMPLATE
from tools.bench.report import BenchError, Report, header
from tools.routing import Function


def ensure_built(fns: list[Function]) -> None:
    """`sam build` when a function's artifact is missing (make bench has just built it)."""
    if any(not (BUILD / fn.logical_id).is_dir() for fn in fns) and TEMPLATE.exists():
        print("(not built: running sam build)", flush=True)
        built = subprocess.run(
            [str(SAM), "build", "--template-file", str(TEMPLATE)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if built.returncode != 0:
            raise BenchError(f"sam build failed:\n{built.stdout[-1500:]}{built.stderr[-1500:]}")


def artifact_size(fns: list[Function], report: Report) -> None:
    """Bytes of each built function, raw and as a deflate zip (what Lambda stores)."""
    header("4. Artifact size: .aws-sam/build/<LogicalId>/")
    results: dict[str, Any] = {}
    for fn in fns:
        folder = BUILD / fn.logical_id
        if not folder.is_dir():
            raise BenchError(f"{folder} does not exist after sam build")
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        raw = sum(p.stat().st_size for p in files)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(folder))
        zipped = len(buffer.getvalue())
        largest = sorted(files, key=lambda p: p.stat().st_size, reverse=True)[:3]
        print(
            f"   {fn.logical_id:<40}{len(files):>4} files  {raw / 1024:7.1f} KB raw  "
            f"{zipped / 1024:7.1f} KB zip"
        )
        print(
            "   largest: "
            + ", ".join(
                f"{p.relative_to(folder)} ({p.stat().st_size / 1024:.1f} KB)" for p in largest
            )
        )
        report.target(
            f"artifact {fn.logical_id} <= {SIZE_TARGET_BYTES // 1024} KB (zip)",
            zipped <= SIZE_TARGET_BYTES,
            f"{zipped / 1024:.1f} KB zip, {raw / 1024:.1f} KB raw, {len(files)} files",
        )
        results[fn.logical_id] = {
            "files": len(files),
            "raw_bytes": raw,
            "zip_bytes": zipped,
            "target_bytes": SIZE_TARGET_BYTES,
        }
    report.data["artifact"] = results
