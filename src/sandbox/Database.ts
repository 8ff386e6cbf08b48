/**
 * The sandbox's SQLite layout: one DDL shared by the HTTP server (which reads and writes it) and
 * the seed generators (which fill it). JSON columns hold what the wire shows as nested objects.
 *
 * File references inside JSON columns never hold URLs: they hold a `media` path relative to the
 * data directory's `media/` folder (`images/000077.png`), which the server turns into a presigned
 * URL per request (host-relative, signed, expiring). A file entry in a JSON column looks like
 * `{"name": "000077.png", "media": "images/000077.png", "file_type": "image", "is_primary": true,
 *   "width": 640, "height": 480, "size": 1234, "checksum": "<md5>"}` (all but `media` optional).
 */

/** Bumped when the layout changes; the server refuses a data directory of another version. */
export const SCHEMA_VERSION = 1

/** Every statement needed to create an empty sandbox database (idempotent). */
export const SCHEMA_SQL = `
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;

-- key/value facts about this data directory: schema_version, seed, rand_seed, token, signing_secret
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS projects (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);

-- file_media: media path of the model file (NULL: registered without a file)
CREATE TABLE IF NOT EXISTS models (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT,
  model_type TEXT NOT NULL CHECK (model_type IN ('classification', 'detection', 'segmentation')),
  project INTEGER NOT NULL REFERENCES projects(id),
  file_media TEXT,
  file_name TEXT,
  file_size INTEGER,
  file_checksum TEXT,
  metrics TEXT NOT NULL DEFAULT '{}',
  configuration TEXT NOT NULL DEFAULT '{}',
  is_active INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  category TEXT,
  plugin INTEGER,
  version TEXT
);
CREATE INDEX IF NOT EXISTS models_by_project ON models(project, is_active);
CREATE INDEX IF NOT EXISTS models_by_created ON models(created_at);

CREATE TABLE IF NOT EXISTS model_evaluations (
  id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES models(id),
  ground_truth_dataset_version INTEGER,
  metrics TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS evaluations_by_model ON model_evaluations(model_id);

CREATE TABLE IF NOT EXISTS ground_truth_datasets (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  project INTEGER NOT NULL REFERENCES projects(id)
);

-- event_count and statistics are maintained by whoever inserts events (seeders), so that serving a
-- version never scans its events.
CREATE TABLE IF NOT EXISTS ground_truth_dataset_versions (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES ground_truth_datasets(id),
  version TEXT NOT NULL,
  name TEXT,
  description TEXT,
  is_active INTEGER NOT NULL DEFAULT 1,
  is_archived INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  event_count INTEGER NOT NULL DEFAULT 0,
  statistics TEXT NOT NULL DEFAULT '{}'
);

-- files: JSON map role -> file entry, e.g. {"image": {name, media, width, height, size, checksum}}
CREATE TABLE IF NOT EXISTS data_units (
  id INTEGER PRIMARY KEY,
  project INTEGER NOT NULL REFERENCES projects(id),
  files TEXT NOT NULL DEFAULT '{}'
);

-- data: the event's annotation JSON ({"type": "image", "annotations": [...]});
-- files: JSON map role -> file entry ({"image_1": {...}, "data_meta_1": {...}});
-- data_type mirrors data.type and project mirrors the dataset's project, for indexed filtering.
CREATE TABLE IF NOT EXISTS ground_truth_events (
  id INTEGER PRIMARY KEY,
  version_id INTEGER NOT NULL REFERENCES ground_truth_dataset_versions(id),
  data_unit_id INTEGER NOT NULL REFERENCES data_units(id),
  project INTEGER NOT NULL,
  category TEXT CHECK (category IS NULL OR category IN ('train', 'validation', 'test')),
  data_type TEXT,
  created_at TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  files TEXT NOT NULL DEFAULT '{}',
  metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_by_version ON ground_truth_events(version_id, id);
CREATE INDEX IF NOT EXISTS events_by_project ON ground_truth_events(project, id);
-- An index on the rowid itself: unfiltered pages (ORDER BY id LIMIT … OFFSET …) then skip through
-- this small b-tree instead of the table's leaf pages full of JSON (page 900 of 100 000 events:
-- ~2 ms instead of ~100 ms). Added by the server's owner; created on existing directories too,
-- since SCHEMA_SQL runs at every start.
CREATE INDEX IF NOT EXISTS events_by_id ON ground_truth_events(id);

CREATE TABLE IF NOT EXISTS ground_truths (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES ground_truth_datasets(id),
  data_unit_id INTEGER NOT NULL REFERENCES data_units(id),
  category TEXT,
  files TEXT NOT NULL DEFAULT '{}',
  data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS ground_truths_by_dataset ON ground_truths(dataset_id, id);
CREATE INDEX IF NOT EXISTS ground_truths_by_id ON ground_truths(id);

CREATE TABLE IF NOT EXISTS ground_truth_version_members (
  version_id INTEGER NOT NULL REFERENCES ground_truth_dataset_versions(id),
  ground_truth_id INTEGER NOT NULL REFERENCES ground_truths(id),
  PRIMARY KEY (version_id, ground_truth_id)
);
CREATE INDEX IF NOT EXISTS version_members_by_gt ON ground_truth_version_members(ground_truth_id);

-- An upload in progress: bytes go to uploads/<id>.part under the data directory; when finished
-- (md5 verified) the file moves to media/uploads/<id>/<filename> and status becomes 'complete'.
CREATE TABLE IF NOT EXISTS chunked_uploads (
  id TEXT PRIMARY KEY,
  filename TEXT NOT NULL,
  offset INTEGER NOT NULL DEFAULT 0,
  total INTEGER,
  status TEXT NOT NULL DEFAULT 'uploading' CHECK (status IN ('uploading', 'complete')),
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  md5 TEXT,
  file_media TEXT,
  bytes_received INTEGER NOT NULL DEFAULT 0
);

-- The evidence profile's integer upload ids, handed out as a database sequence hands them out
-- (AUTOINCREMENT: never twice, even after rows go). A directory whose uploads predate the sequence
-- starts it past their highest integer id (this runs at every start; it inserts only once).
CREATE TABLE IF NOT EXISTS upload_numbers (n INTEGER PRIMARY KEY AUTOINCREMENT);
INSERT INTO upload_numbers (n)
  SELECT MAX(CAST(id AS INTEGER)) FROM chunked_uploads
  WHERE length(id) <= 15 AND id NOT GLOB '*[^0-9]*'
    AND NOT EXISTS (SELECT 1 FROM upload_numbers)
  HAVING MAX(CAST(id AS INTEGER)) IS NOT NULL;
`
