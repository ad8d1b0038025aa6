"""register_v2's Python half: proves that a model file from outside SoMLier loads, then writes
it as an MLflow model directory.

  python -m somlier._import_model sklearn FILE OUT_DIR
  python -m somlier._import_model pytorch FILE OUT_DIR MODULE_FILE CLASS_NAME

scikit-learn: FILE is a joblib or pickle file of an estimator (anything from sklearn with a
predict method). PyTorch: FILE is a state dict (or a whole saved module) for CLASS_NAME, which
MODULE_FILE defines; the class is instantiated without arguments and the weights are loaded
strictly. The model directory gets MODULE_FILE under code/, so loading it needs nothing else.

The last line on stdout is JSON: {"ok": true, "flavor", "detail"} or {"ok": false,
"error": KIND, "message"}, KIND one of not_sklearn, module_not_found, class_not_found,
weights_mismatch, unreadable, internal (anything else; the traceback is on stderr); the exit
code is 0 or 1. A message never quotes bytes of FILE (which may come from someone who cannot
read it): a file that does not load is described by the exception's type only.
"""
import json
import os
import sys

from . import _flavors
from ._models import ImportFailure

# The readers are the flavors' (sklearn._import_file, pytorch._import_file); which flavors
# import files, and with which extra arguments, is the flavor table's (_flavors.FLAVORS).


def main(argv):
    # The answer goes to the real stdout; anything the model's module prints goes to stderr.
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def print(text):  # noqa: A001 - the answer line, on the saved stdout
        answer.write(text + "\n")
        answer.flush()

    try:
        flavor = _flavors.get(argv[0]) if argv else None
        if (flavor is None or flavor.import_file is None
                or len(argv) != 3 + len(flavor.import_args)):
            print(json.dumps({"ok": False, "error": "usage", "message": __doc__}))
            return 2
        detail = flavor.import_file(*argv[1:])
    except ImportFailure as failure:
        print(json.dumps({"ok": False, "error": failure.kind, "message": str(failure)}))
        return 1
    except Exception as error:  # noqa: BLE001 - the traceback goes to stderr only
        import traceback
        traceback.print_exc()
        print(json.dumps({"ok": False, "error": "internal", "message": "validating the model "
                          f"in Python failed ({type(error).__name__}); the log has the details"}))
        return 1
    print(json.dumps({"ok": True, "flavor": flavor.name, "detail": detail}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
