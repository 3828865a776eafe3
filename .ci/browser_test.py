"""Browser test of the widgets: Voila serves a notebook showing `preview_schedule` on 127.0.0.1, headless Chromium
(Debian's /usr/bin/chromium, driven by Playwright's Python client) moves the max_lr slider with five key presses, and the
test checks that the plot (its image's description, sent with it), the slider's readout and the shown OneCycleLR(...)
call all end on the final value; then it picks the WSD shape and moves its cool-down slider (decay_steps) the same way,
and checks the shown ParamScheduler(...) call, the readout and the step where the plot leaves its peak, and that the page shows no error output (TensorFlow's start-up log, a traceback).
Voila runs without TF_CPP_MIN_LOG_LEVEL, as a user's would. It saves a screenshot.
Every wait is bounded and the server is stopped at the end, pass or fail.
Run: python .ci/browser_test.py [--screenshot widgets.png]
"""

import argparse, json, os, re, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

CHROMIUM = '/usr/bin/chromium'
FLAGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--disable-quic',
    '--disable-sync',
]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_notebook(folder):
    source = (
        "import sys\nfrom onecycle.widgets import preview_schedule\n"
        "print('tensorflow loaded:', 'tensorflow' in sys.modules)   # its start-up log would come with it\n"
        "preview_schedule(max_lr=0.01, epochs=10, steps_per_epoch=100)"
    )
    notebook = dict(
        cells=[dict(cell_type='code', execution_count=None, metadata={}, outputs=[], source=source)],
        metadata=dict(kernelspec=dict(name='python3', display_name='python3', language='python')),
        nbformat=4,
        nbformat_minor=5,
    )
    path = Path(folder) / 'preview.ipynb'
    path.write_text(json.dumps(notebook))
    return path


def wait_for_server(url, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"Voila did not answer at {url} within {seconds} s")


def max_lr_of(call):
    return float(re.search(r'max_lr=([0-9.e-]+)', call).group(1))


def decay_of(call):
    return int(re.search(r'decay_steps=(\d+)', call).group(1))


def peak_of(description):
    return float(re.search(r'up to ([0-9.e-]+) at step', description).group(1))


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not happen within {seconds} s")


def run(screenshot):
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        notebook, port = write_notebook(folder), free_port()
        log = open(Path(folder) / 'voila.log', 'w')
        server = subprocess.Popen(
            [
                sys.executable,
                '-m',
                'voila',
                str(notebook),
                '--no-browser',
                f'--port={port}',
                '--Voila.ip=127.0.0.1',
                '--show_tracebacks=True',
            ],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'},
        )  # as a user's Voila runs
        try:
            url = f'http://127.0.0.1:{port}/'
            wait_for_server(url, 120)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, timeout=60_000)
                try:
                    page = browser.new_page(viewport=dict(width=1400, height=1000))
                    page.set_default_timeout(120_000)
                    page.goto(url)
                    call, image = page.locator('code.onecycle-call'), page.locator('img.onecycle-plot').first
                    call.wait_for()
                    image.wait_for()
                    call_before, image_before = call.inner_text(), image.get_attribute('src')
                    assert max_lr_of(call_before) == 0.01, call_before
                    handle = page.locator('.widget-hslider', has_text='max_lr').locator('.noUi-handle').first
                    handle.focus()
                    for _ in range(5):
                        page.keyboard.press('ArrowRight')
                    expected = 10 ** (
                        -2 + 5 * 0.05
                    )  # five steps of 0.05 in log10; the kernel may still be working through them
                    wait_until(
                        lambda: abs(max_lr_of(call.inner_text()) - expected) < 1e-6,
                        60,
                        f'the shown call reaching max_lr={expected:.6g}',
                    )
                    plotted = lambda: peak_of(image.get_attribute('title') or 'up to nan at step')
                    wait_until(
                        lambda: abs(plotted() - expected) / expected < 1e-3,
                        60,
                        f'the plot showing the peak {expected:.4g}',
                    )
                    assert image.get_attribute('src') != image_before, 'the plot did not change'
                    call_after = call.inner_text()
                    readout = (
                        page.locator('.widget-hslider', has_text='max_lr').locator('.widget-readout').first.inner_text()
                    )
                    assert abs(float(readout) - max_lr_of(call_after)) / max_lr_of(call_after) < 1e-2, (
                        readout,
                        call_after,
                    )
                    text = page.locator('body').inner_text()
                    assert 'tensorflow loaded: False' in text, (
                        'the widgets loaded TensorFlow (and its start-up log) into the page'
                    )
                    errors = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
                    assert errors.count() == 0 and not any(word in text for word in ('oneDNN', 'absl', 'Traceback')), (
                        f"the page shows error output: {(errors.first.inner_text() if errors.count() else text)[:500]}"
                    )
                    print(
                        f"slider moved: {call_before}\n           -> {call_after}\nplot: {image.get_attribute('title')}"
                    )
                    # WSD: pick the shape, then lengthen the cool-down with its slider; the peak is left earlier
                    page.get_by_label('shape', exact=True).select_option('warmup_stable_decay')
                    wait_until(
                        lambda: call.inner_text().startswith('ParamScheduler('), 60, 'the shown call becoming a WSD'
                    )
                    decay = page.locator('.widget-hslider', has_text='decay_steps')
                    decay_before = decay_of(call.inner_text())
                    decay.locator('.noUi-handle').first.focus()
                    for _ in range(5):
                        page.keyboard.press('ArrowRight')
                    wait_until(
                        lambda: decay_of(call.inner_text()) == decay_before + 5,
                        60,
                        f'the call reaching decay_steps={decay_before + 5}',
                    )
                    total = 10 * 100
                    wait_until(
                        lambda: f'held to step {total - decay_before - 5},' in (image.get_attribute('title') or ''),
                        60,
                        f'the plot holding the peak to step {total - decay_before - 5}',
                    )
                    assert int(decay.locator('.widget-readout').first.inner_text()) == decay_before + 5
                    page.screenshot(path=str(screenshot), full_page=True)
                    print(
                        f"WSD cool-down moved: {call.inner_text()}\nplot: {image.get_attribute('title')}\nscreenshot: {screenshot}"
                    )
                finally:
                    browser.close()
        except Exception:
            log.flush()
            print('--- voila log ---\n' + (Path(folder) / 'voila.log').read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)
            log.close()


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--screenshot', default='widgets-browser.png')
    args = parser.parse_args()
    try:
        run(Path(args.screenshot).resolve())
    except Exception as e:
        print(f"browser: 0 passed, 1 failed ({type(e).__name__}: {e})")
        sys.exit(1)
    print('browser: 1 passed, 0 failed')
