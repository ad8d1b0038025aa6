#!/bin/bash
# Runs the project with the interpreter SoMLier chose (SOMLIER_PYTHON), else python3.
exec "${SOMLIER_PYTHON:-python3}" main.py "$@"
