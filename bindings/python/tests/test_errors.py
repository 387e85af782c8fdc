"""Every PHD_E* code is an exception class derived from phdeploy.Error."""
import os
import re

import phdeploy
from phdeploy import _lib as lib


def test_every_error_code_of_the_header_has_its_own_exception_class(srcdir):
    with open(os.path.join(srcdir, "libphdeploy/include/phdeploy/phdeploy.h")) as f:
        codes = dict(re.findall(r"\b(PHD_E[A-Z]+) = (-\d+)", f.read()))
    assert len(codes) >= 18
    classes = set()
    for name, value in codes.items():
        cls = phdeploy.error_class(int(value))
        assert cls is not phdeploy.Error, name
        assert (cls.code, cls.code_name) == (int(value), name)
        assert getattr(lib, name) == int(value)
        classes.add(cls)
    assert len(classes) == len(codes)


def test_every_exception_class_derives_from_phdeploy_error_and_is_exported():
    for cls in phdeploy.ERRORS:
        assert issubclass(cls, phdeploy.Error)
        assert getattr(phdeploy, cls.__name__) is cls


def test_an_error_without_a_message_carries_the_library_text_for_its_code():
    e = phdeploy.LockedError()
    assert e.code == lib.PHD_ELOCKED
    assert str(e) == "another run holds the lock" == phdeploy.strerror(lib.PHD_ELOCKED)


def test_an_unknown_code_maps_to_the_base_class():
    assert phdeploy.error_class(-4242) is phdeploy.Error
    assert phdeploy.Error("x", code=-4242).code == -4242


def test_the_loaded_library_reports_its_version():
    assert phdeploy.library_version() == "0.3.0"
    assert phdeploy.PLUGIN_ABI[0] == 2
