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

from setuptools import find_packages, setup

package_name = 'arena_eval'

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
    entry_points={
        'console_scripts': [
            'arena_eval_node = arena_eval.ros.main:main',
            'arena_eval_sim = arena_eval.ros.sim:main',
            'arena_eval = arena_eval.__main__:main',
            'arena_eval_replay = arena_eval.tools.replay:main',
        ],
    },
)
