"""The remediator modules (remediators/*.py) as top-level modules beside core, as in Lambda.

The build's metadata (egg-info) goes to build/, never into remediators/ (the Lambda CodeUri).
"""

from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
(HERE / "build").mkdir(exist_ok=True)
setup(
    py_modules=sorted(p.stem for p in (HERE / "remediators").glob("*.py")),
    options={"egg_info": {"egg_base": "build"}},
)
