#!/usr/bin/env python3
"""The compliance view driven over headless Chromium's DevTools pipe
(--remote-debugging-pipe, file descriptors 3 and 4, NUL-terminated JSON)
for tests/integration/ui.sh, independent of lisec's code.

  ui_cdp.py reload URL PROFILE_DIR COMMAND
      opens URL, waits until the page is drawn, runs COMMAND (which makes
      lisecd unreachable), clicks the page's Reload button, waits until the
      page says its read failed, and prints the verdict's text, class and
      data-compliant before and after as JSON lines.
  ui_cdp.py ages URL PROFILE_DIR AHEAD_S
      opens URL with the browser's clock AHEAD_S seconds ahead of the
      machine's (virtual time) and prints {host: data-age} of the
      hosts table once the page is drawn.
  ui_cdp.py vms URL PROFILE_DIR -
      opens URL and prints, once the page is drawn, what it shows of VMs as
      JSON: the VM table's ids (data-vm) and whether its section is
      hidden, each host row's VM cell, and the page's whole text as shown.
"""
import json
import os
import subprocess
import sys
import time


def main():
    mode, url, profile, arg = sys.argv[1:5]
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()

    def pipes():
        a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
        os.dup2(a, 3)
        os.dup2(b, 4)
        os.set_inheritable(3, True)
        os.set_inheritable(4, True)

    chrome = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps",
         "--disable-extensions", "--user-data-dir=" + profile,
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost", "--remote-debugging-pipe",
         "about:blank"],
        preexec_fn=pipes, close_fds=False, stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(profile + ".err"), "w"))
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    out = os.fdopen(to_chrome_w, "wb", buffering=0)
    inp = os.fdopen(from_chrome_r, "rb", buffering=0)
    buf = b""
    last = 0

    def send(method, params=None, session=None):
        nonlocal buf, last
        last += 1
        msg = {"id": last, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        out.write(json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in buf:
                chunk = inp.read(65536)
                if not chunk:
                    sys.exit("FAIL: chromium closed its DevTools pipe")
                buf += chunk
            one, buf = buf.split(b"\0", 1)
            reply = json.loads(one)
            if reply.get("id") == last:
                if "error" in reply:
                    sys.exit("FAIL: %s: %s" % (method, reply["error"]))
                return reply["result"]

    try:
        target = send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        if mode == "ages":
            send("Emulation.setVirtualTimePolicy",
                 {"policy": "advance", "initialVirtualTime": time.time() + float(arg)}, session)
        send("Page.navigate", {"url": url}, session)

        def value(expr):
            r = send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session)
            return r["result"].get("value")

        def wait_state(want):
            for _ in range(600):  # 60 s
                if value("document.body ? document.body.dataset.state : ''") == want:
                    return
                time.sleep(0.1)
            sys.exit("FAIL: the page did not reach data-state=%s" % want)

        verdict = ("(() => { const v = document.getElementById('verdict'); return {text: v.textContent, "
                   "class: v.className, compliant: v.getAttribute('data-compliant')}; })()")
        wait_state("ready")
        if mode == "ages":
            print(json.dumps(value("Object.fromEntries([...document.querySelectorAll('#hosts tr[data-host]')]"
                                   ".map((r) => [r.dataset.host, r.dataset.age]))")), flush=True)
            return
        if mode == "vms":
            print(json.dumps(value(
                "({vms: [...document.querySelectorAll('#vms tr[data-vm]')].map((r) => r.dataset.vm),"
                " vms_hidden: document.getElementById('vms-section').hidden,"
                " host_vms: Object.fromEntries([...document.querySelectorAll('#hosts tr[data-host]')]"
                ".map((r) => [r.dataset.host, r.cells[r.cells.length - 1].textContent])),"
                " text: document.body.innerText})")), flush=True)
            return
        print(json.dumps({"when": "before", **value(verdict)}), flush=True)
        subprocess.run(arg, shell=True, check=True)
        value("document.getElementById('reload').click()")
        wait_state("error")
        print(json.dumps({"when": "after", **value(verdict)}), flush=True)
    finally:
        chrome.kill()
        chrome.wait()


main()
