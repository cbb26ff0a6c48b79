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

from glob import glob
import os
import subprocess
import sys

from setuptools import find_packages, setup
from setuptools.command.install import install

package_name = 'arena_eval'


class InstallAndWarm(install):
    """
    Run `install`, then fill numba's cache beside the installed copy (`python -m arena_eval warm`).

    colcon build runs this install: the first start of the installed node then loads compiled
    code instead of compiling for ~15 s. A staged install (`--root`: a wheel, a distribution
    package) is not where the code runs, and is left alone; so is any install with
    ARENA_EVAL_NO_WARM set. A failed warm-up only costs the first start its compile: a warning.
    """

    def run(self):
        super().run()
        if self.root or os.environ.get('ARENA_EVAL_NO_WARM'):
            return
        env = dict(os.environ)
        env.pop('NUMBA_CACHE_DIR', None)  # the cache must land beside the installed modules
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (self.install_lib, env.get('PYTHONPATH')) if p)
        # Run from the install folder, so `-m` imports the installed copy, not this source.
        rc = subprocess.call([sys.executable, '-m', package_name, 'warm'], cwd=self.install_lib,
                             env=env)
        if rc != 0:
            print('warning: %s warm failed (exit %d): the first start will compile'
                  % (package_name, rc), file=sys.stderr)


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    # The C floor of `bench --node`, compiled at bench time (tools/cfloor.py).
    package_data={'arena_eval.tools': ['cfloor.c', 'latprobe.c', 'rclkit.h']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml', 'README.md']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='arena_eval maintainers',
    maintainer_email='maintainers@users.noreply.r-seed-5e438e22.example',
    description='Zero-allocation 1 kHz expression evaluation over ROS 2 sensor topics.',
    license='Apache-2.0',
    tests_require=['pytest'],
    cmdclass={'install': InstallAndWarm},
    entry_points={
        'console_scripts': [
            'arena_eval_node = arena_eval.ros.main:main',
            'arena_eval_sim = arena_eval.ros.sim:main',
            'arena_eval = arena_eval.__main__:main',
            'arena_eval_replay = arena_eval.tools.replay:main',
        ],
    },
)
