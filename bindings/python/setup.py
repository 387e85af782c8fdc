# The cffi extension (phdeploy._capi) is declared here: setuptools reads
# cffi_modules from setup() only.  Metadata lives in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["build_capi.py:ffibuilder"])
