# Copyright 2026 The arena_eval Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
The benchmarks' C programs: build them against the installed rcl, at bench time.

`cfloor.c` is the C floor of `bench --node` and the C subjects of `bench --latency`;
`latprobe.c` the latency bench's endpoints. `build(directory, source)` compiles one of them
(with `rclkit.h`, which they share) with the system C compiler
(`$CC`, else `cc`, `gcc`, `clang`) against the rcl headers and libraries of the running
Python's ROS installation, and returns the executable's path; or raises `Unavailable` with one
line saying why (no compiler, no headers, a failed build). Nothing built is ever written into
the source tree: the caller gives a temporary directory.

Where to find rcl: with the PyPI wheels, headers are under `<prefix>/include/<package>/` and
libraries in `<prefix>/lib` (`sys.prefix`, the venv); with an apt/colcon ROS, under
`$AMENT_PREFIX_PATH` entries. The wheels' `librcl.so` needs `*_rosidl_generator_py.so`, which
needs libpython: the program links libpython (never initialised), and runs with this process's
`LD_LIBRARY_PATH` (the wheels' bootstrapper sets it; the type-support lookup uses it).

>>> import tempfile                                          # doctest: +SKIP
>>> with tempfile.TemporaryDirectory() as d:                 # doctest: +SKIP
...     subprocess.run([build(d), '1000'])                   # runs until SIGINT
"""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

SOURCE = pathlib.Path(__file__).with_name('cfloor.c')
# The benchmarks' other C program: the latency bench's publisher and subscriber.
PROBE_SOURCE = SOURCE.with_name('latprobe.c')
LIBRARIES = ('rcl', 'rcutils', 'rmw', 'sensor_msgs__rosidl_typesupport_c',
             'std_msgs__rosidl_typesupport_c')


class Unavailable(RuntimeError):
    """The C floor cannot be built here (the message says why, in one line)."""


def compiler():
    """Return the C compiler to use, or None."""
    for name in (os.environ.get('CC'), 'cc', 'gcc', 'clang'):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def prefixes():
    """Install prefixes that may hold rcl: the venv's (wheels), then the ament prefixes."""
    found = [pathlib.Path(sys.prefix)]
    for entry in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if entry:
            found.append(pathlib.Path(entry))
    return [p for p in found if (p / 'include' / 'rcl').is_dir() or (p / 'include' / 'rcl.h')
            .exists()]


def _command(cc, source, output, prefix):
    include = prefix / 'include'
    # ament installs each package's headers in include/<package>/ (Humble on), older ones flat.
    includes = ['-I' + str(include)] + ['-I' + str(d) for d in sorted(include.iterdir())
                                        if d.is_dir()]
    lib = prefix / 'lib'
    link_dirs = [str(lib)] + [d for d in os.environ.get('LD_LIBRARY_PATH', '').split(os.pathsep)
                              if d]
    python_lib = sysconfig.get_config_var('LIBDIR')
    python_so = 'python' + sysconfig.get_config_var('LDVERSION')
    # -I the source's folder: the programs share rclkit.h; -pthread: latprobe has two threads.
    return ([cc, '-O2', '-pthread', '-o', str(output), str(source), '-I' + str(source.parent)]
            + includes
            + ['-L' + str(lib)] + ['-l' + name for name in LIBRARIES]
            + ['-Wl,-rpath-link,' + d for d in link_dirs]
            + ['-Wl,-rpath,' + str(lib)]
            # Linked even though the program calls none of it: rcl's libraries need it.
            + ['-L' + python_lib, '-Wl,--no-as-needed', '-l' + python_so, '-Wl,--as-needed',
               '-lm'])


def build(directory, source=SOURCE):
    """Compile the C floor (or another program beside it) into `directory`; return its path."""
    source = pathlib.Path(source)
    cc = compiler()
    if cc is None:
        raise Unavailable('no C compiler found (set CC, or install cc/gcc/clang)')
    found = prefixes()
    if not found:
        raise Unavailable('no rcl headers found under %s or AMENT_PREFIX_PATH' % sys.prefix)
    output = pathlib.Path(directory) / source.stem
    errors = []
    for prefix in found:
        result = subprocess.run(_command(cc, source, output, prefix), capture_output=True,
                                text=True)
        if result.returncode == 0:
            return str(output)
        lines = [ln for ln in result.stderr.splitlines() if 'error' in ln] or [
            result.stderr.strip()]
        errors.append('%s: %s' % (prefix, lines[0] if lines else 'failed'))
    raise Unavailable('%s did not build: %s' % (source.name, '; '.join(errors)))
