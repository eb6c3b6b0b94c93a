"""The body of ``scripts/console-screenshot`` (see there)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"<!-- walkthrough -->\s*\n```bash\n(.*?)\n```", re.S)
ROW = '.namespace[data-namespace="default"] .svc-row[data-service="web"]'


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"console-screenshot: timed out waiting for {what}")
        time.sleep(0.2)


def start_cluster(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``kubemu up --nodes 2``; its process and the console's URL once it is up."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kubemu", "up", "--port", "0", "--nodes", "2",
             "--data-dir", str(data_dir)], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def up() -> bool:
        if process.poll() is not None:
            raise SystemExit("kubemu up failed:\n" + log.read_text(errors="replace")[-4000:])
        return "kubemu is up" in log.read_text(errors="replace")

    wait_for("kubemu up", up)
    found = re.search(r"web console: (http://\S+)", log.read_text(errors="replace"))
    if found is None:
        raise SystemExit("kubemu up printed no console URL")
    return process, found.group(1)


def walkthrough(data_dir: Path, tmp: Path) -> None:
    """The README walkthrough's first two blocks (pods, Service, requests), then web-2
    made not ready as its fourth block does."""
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    script = "\n".join([*blocks[:2], """
POD_IP=$(kubectl get pod web-2 -o jsonpath='{.status.podIP}')
curl -sS -X POST "http://$POD_IP:8080/kubemu/ready?value=false"
kubectl wait --for=condition=Ready=false pod/web-2 --timeout=30s
"""])
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update(KUBEMU_DATA=str(data_dir), HOME=str(tmp),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, check=True,
                   timeout=300)


def photograph(url: str, out: Path, tmp: Path) -> None:
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--user-data-dir={tmp / 'chromium'}", "--window-size=1400,900",
                "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options,
                              service=Service(executable_path="/usr/bin/chromedriver"))
    try:
        driver.get(url)

        def settled() -> bool:
            ready = driver.execute_script(
                "const e = document.querySelector(arguments[0]);"
                "return e ? e.getAttribute('data-ready-set') : null;", f"{ROW} .ready-set")
            return ready is not None and len(str(ready).split()) == 2

        wait_for("the console to show web with two ready endpoints", settled)
        time.sleep(2)  # one more poll of the proxies' connection counts
        height = driver.execute_script("return document.documentElement.scrollHeight;")
        driver.set_window_size(1400, int(height) + 20)
        time.sleep(0.5)
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "console.png"
    with tempfile.TemporaryDirectory(prefix="kubemu-console-") as name:
        tmp = Path(name)
        process, url = start_cluster(tmp / "data", tmp / "kubemu-up.log")
        try:
            wait_for("two Ready nodes", lambda: httpx.get(url + "api/snapshot").json()
                     .get("nodes", []).__len__() == 2)
            walkthrough(tmp / "data", tmp)
            photograph(url, out.resolve(), tmp)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
