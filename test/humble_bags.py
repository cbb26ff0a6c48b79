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
rosbag2 bags written byte for byte as Humble's (and Dashing's) rosbag2 writes them, for tests.

Written from rosbag2's own sources (branch humble): `rosbag2_storage_default_plugins/src/
rosbag2_storage_default_plugins/sqlite/sqlite_storage.cpp` (`initialize()`: the schema 3
tables `schema`, `metadata` (created, left empty), `topics` with `offered_qos_profiles`,
`messages`, the `timestamp_idx` index, the row `(3, $ROS_DISTRO)`) and
`rosbag2_storage/src/rosbag2_storage/metadata_io.cpp` (metadata.yaml version 5: duration,
starting_time, message_count, topics_with_message_count, compression_format/mode,
relative_file_paths, files). Neither stores message definitions: that came in Iron.
Version 2 (Dashing): no schema table, topics without QoS, no compression keys, no `files`.
Compression as rosbag2_compression does it: zstd over each `.db3` (`<file>.db3.zstd`, mode
FILE) or over each message's bytes (mode MESSAGE).
"""

import os
import sqlite3

HUMBLE_QOS = ('- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n'
              '    sec: 9223372036\n    nsec: 854775807\n  lifespan:\n    sec: 9223372036\n'
              '    nsec: 854775807\n  liveliness: 1\n  liveliness_lease_duration:\n'
              '    sec: 9223372036\n    nsec: 854775807\n  avoid_ros_namespace_conventions: false')


def _zstd():
    try:
        from compression import zstd  # Python 3.14
    except ImportError:
        from backports import zstd    # what rosbags uses before 3.14
    return zstd


def _write_db3(path, topics, messages, version, compress_messages):
    db = sqlite3.connect(path)
    if version >= 5:
        db.executescript(
            'CREATE TABLE schema(schema_version INTEGER PRIMARY KEY,ros_distro TEXT NOT NULL);'
            'CREATE TABLE metadata(id INTEGER PRIMARY KEY,metadata_version INTEGER NOT NULL,'
            'metadata TEXT NOT NULL);'
            'CREATE TABLE topics(id INTEGER PRIMARY KEY,name TEXT NOT NULL,type TEXT NOT NULL,'
            'serialization_format TEXT NOT NULL,offered_qos_profiles TEXT NOT NULL);'
            'CREATE TABLE messages(id INTEGER PRIMARY KEY,topic_id INTEGER NOT NULL,'
            'timestamp INTEGER NOT NULL, data BLOB NOT NULL);'
            'CREATE INDEX timestamp_idx ON messages (timestamp ASC);')
        db.execute('INSERT INTO schema (schema_version, ros_distro) VALUES (?, ?)', (3, 'humble'))
        for i, (name, msgtype) in enumerate(topics, 1):
            db.execute('INSERT INTO topics (id, name, type, serialization_format, '
                       'offered_qos_profiles) VALUES (?, ?, ?, ?, ?)',
                       (i, name, msgtype, 'cdr', HUMBLE_QOS))
    else:  # Dashing's first schema
        db.executescript(
            'CREATE TABLE topics(id INTEGER PRIMARY KEY,name TEXT NOT NULL,type TEXT NOT NULL,'
            'serialization_format TEXT NOT NULL);'
            'CREATE TABLE messages(id INTEGER PRIMARY KEY,topic_id INTEGER NOT NULL,'
            'timestamp INTEGER NOT NULL, data BLOB NOT NULL);'
            'CREATE INDEX timestamp_idx ON messages (timestamp ASC);')
        for i, (name, msgtype) in enumerate(topics, 1):
            db.execute('INSERT INTO topics (id, name, type, serialization_format) '
                       'VALUES (?, ?, ?, ?)', (i, name, msgtype, 'cdr'))
    ids = {topic: i for i, topic in enumerate(topics, 1)}
    zstd = _zstd() if compress_messages else None
    for topic, msgtype, t, data in messages:  # in arrival order, as the recorder writes
        blob = zstd.compress(bytes(data)) if zstd else bytes(data)
        db.execute('INSERT INTO messages (timestamp, topic_id, data) VALUES (?, ?, ?)',
                   (t, ids[topic, msgtype], blob))
    db.commit()
    db.close()


def write_humble_bag(folder, messages, version=5, split=1, compression=''):
    """
    Write `(topic, type, log ns, CDR)` as Humble's rosbag2 (sqlite3) would; return the folder.

    `split`: number of storage files (messages dealt out in log-time blocks, as rosbag2 splits
    by size or duration); `compression`: '', 'file' or 'message' (zstd).
    """
    os.makedirs(folder)
    name = os.path.basename(os.path.normpath(folder))
    topics = list(dict.fromkeys((m[0], m[1]) for m in messages))
    ordered = sorted(messages, key=lambda m: m[2])
    per = -(-len(ordered) // split) if ordered else 0
    files = []
    for k in range(split):
        part = ordered[k * per:(k + 1) * per]
        db3 = f'{name}_{k}.db3'
        _write_db3(os.path.join(folder, db3), topics, part, version, compression == 'message')
        if compression == 'file':
            zstd = _zstd()
            with open(os.path.join(folder, db3), 'rb') as f:
                packed = zstd.compress(f.read())
            with open(os.path.join(folder, db3 + '.zstd'), 'wb') as f:
                f.write(packed)
            os.remove(os.path.join(folder, db3))
            db3 += '.zstd'
        times = [m[2] for m in part]
        files.append((db3, min(times), max(times) - min(times), len(part)))
    start = min(m[2] for m in messages)
    duration = max(m[2] for m in messages) - start
    lines = ['rosbag2_bagfile_information:', f'  version: {version}',
             '  storage_identifier: sqlite3', '  duration:', f'    nanoseconds: {duration}',
             '  starting_time:', f'    nanoseconds_since_epoch: {start}',
             f'  message_count: {len(messages)}', '  topics_with_message_count:']
    for topic, msgtype in topics:
        count = sum(1 for m in messages if (m[0], m[1]) == (topic, msgtype))
        lines += ['    - topic_metadata:', f'        name: {topic}', f'        type: {msgtype}',
                  '        serialization_format: cdr']
        if version >= 4:
            quoted = HUMBLE_QOS.replace('\n', '\\n')
            lines.append(f'        offered_qos_profiles: "{quoted}"')
        lines.append(f'      message_count: {count}')
    if version >= 3:
        mode = {'': '', 'file': 'FILE', 'message': 'MESSAGE'}[compression]
        lines += [f'  compression_format: "{"zstd" if compression else ""}"',
                  f'  compression_mode: "{mode}"']
    lines.append('  relative_file_paths:')
    lines += [f'    - {f[0]}' for f in files]
    if version >= 5:
        lines.append('  files:')
        for path, first, span, count in files:
            lines += [f'    - path: {path}', '      starting_time:',
                      f'        nanoseconds_since_epoch: {first}', '      duration:',
                      f'        nanoseconds: {span}', f'      message_count: {count}']
    with open(os.path.join(folder, 'metadata.yaml'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return str(folder)
