import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

// Builds pure-Python wheels (py3-none-any) offline: a zip with the package, METADATA, WHEEL and RECORD.
const MAKE_WHEELS = `
import base64, hashlib, json, os, sys, zipfile
out, specs = sys.argv[1], json.loads(sys.argv[2])
for name, version, value, deps in specs:
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {value!r}\\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n" + "".join(f"Requires-Dist: {d}\\n" for d in deps),
        f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    record = ""
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(text.encode())}\\n"
    files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\\n"
    with zipfile.ZipFile(os.path.join(out, f"{name}-{version}-py3-none-any.whl"), "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
`;

/** A pure-Python wheel to build: its name, version, the value of its `VALUE`, and its dependencies. @public */
export type WheelSpec = [name: string, version: string, value: string, deps: string[]];

/**
 * Build pure-Python wheels (py3-none-any) into `dir`, offline: each a package whose `__init__.py`
 * sets `VALUE`, for tests and examples of `@pypi` on machines that cannot reach PyPI
 * (`sources: [dir]`).
 * @public
 */
export function makeWheels(dir: string, specs: WheelSpec[], python = 'python3'): void {
  mkdirSync(dir, { recursive: true });
  execFileSync(python, ['-c', MAKE_WHEELS, dir, JSON.stringify(specs)]);
}
