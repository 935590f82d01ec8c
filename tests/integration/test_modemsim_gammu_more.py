"""Realism check with gammu-smsd, second half: SIM7600 and Huawei (see
test_modemsim_gammu.py for what is checked)."""
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "test_modemsim_gammu", os.path.join(HERE, "test_modemsim_gammu.py"))
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)

if __name__ == "__main__":
    mod.main(["sim7600", "huawei"])
