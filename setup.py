"""The remediator modules (remediators/*.py) as top-level modules beside core, as in Lambda."""

from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
setup(py_modules=sorted(p.stem for p in (HERE / "remediators").glob("*.py")))
