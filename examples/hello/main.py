"""Prints the greeting fetched into the assets directory, as often as model.config says."""
import json
import os
import pathlib


def greeting_lines():
    assets = pathlib.Path(os.environ.get("SOMLIER_ASSETS_DIR", "assets"))
    config = json.loads(os.environ.get("SOMLIER_MODEL_CONFIG", "{}"))
    text = (assets / "greeting.txt").read_text().strip()
    return [text] * int(config.get("greeting_repeats", 1))


if __name__ == "__main__":
    for line in greeting_lines():
        print(line)
