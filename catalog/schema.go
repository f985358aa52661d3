package catalog

// applicationID marks a SQLite file as a deltafs catalog ("dlfs").
const applicationID = 0x646c6673

// migrations are the schema changes in order; migrations[i] takes a catalog
// from version i to i+1, and the version is kept in PRAGMA user_version.
// Never edit a released migration: append a new one.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE objects (
	id          TEXT PRIMARY KEY,
	ref         TEXT REFERENCES objects(id) DEFERRABLE INITIALLY DEFERRED,
	strategy    TEXT NOT NULL,
	lossy       INTEGER NOT NULL,
	raw_size    INTEGER NOT NULL,
	stored_size INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX objects_ref ON objects(ref);

CREATE TABLE entries (
	path         TEXT PRIMARY KEY,
	parent       TEXT REFERENCES entries(path) DEFERRABLE INITIALLY DEFERRED,
	name         TEXT NOT NULL,
	kind         INTEGER NOT NULL CHECK (kind IN (1, 2, 3)),
	inode        INTEGER NOT NULL UNIQUE,
	mode         INTEGER NOT NULL,
	mtime        INTEGER NOT NULL,
	size         INTEGER NOT NULL,
	object       TEXT REFERENCES objects(id) DEFERRABLE INITIALLY DEFERRED,
	content_hash TEXT,
	dtype        TEXT,
	shape        TEXT,
	fortran      INTEGER NOT NULL DEFAULT 0,
	header       BLOB
) WITHOUT ROWID;
CREATE INDEX entries_parent ON entries(parent, name);
CREATE INDEX entries_content ON entries(content_hash);
CREATE INDEX entries_object ON entries(object);

CREATE TABLE models (
	name TEXT PRIMARY KEY,
	base TEXT REFERENCES models(name) ON UPDATE CASCADE ON DELETE SET NULL
) WITHOUT ROWID;

INSERT INTO counters(name, value) VALUES ('inode', 1);
INSERT INTO entries(path, parent, name, kind, inode, mode, mtime, size)
	VALUES ('', NULL, '', 1, 1, 493, CAST(unixepoch('subsec') * 1e9 AS INTEGER), 0);
`,
	// 2: unfinished work of a process, redone or undone when it dies:
	// files closed through a write-back mount and not yet encoded, and
	// imports in progress.
	`
CREATE TABLE pending (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	session     TEXT NOT NULL,
	stage       TEXT NOT NULL,
	path        TEXT NOT NULL,
	mode        INTEGER NOT NULL,
	strategy    TEXT NOT NULL,
	allow_lossy INTEGER NOT NULL,
	size        INTEGER NOT NULL
);
CREATE INDEX pending_session ON pending(session, id);

CREATE TABLE imports (
	model   TEXT PRIMARY KEY,
	session TEXT NOT NULL
) WITHOUT ROWID;
`,
	// 3: files stored tensor by tensor (safetensors): the tensors of the
	// entry with that inode, each its own object. The entry itself is a
	// blob of the file's header.
	`
CREATE TABLE parts (
	inode        INTEGER NOT NULL REFERENCES entries(inode) ON DELETE CASCADE,
	idx          INTEGER NOT NULL,
	name         TEXT NOT NULL,
	dtype        TEXT NOT NULL,
	shape        TEXT NOT NULL,
	offset       INTEGER NOT NULL,
	size         INTEGER NOT NULL,
	object       TEXT NOT NULL REFERENCES objects(id) DEFERRABLE INITIALLY DEFERRED,
	content_hash TEXT NOT NULL,
	PRIMARY KEY (inode, idx)
) WITHOUT ROWID;
CREATE INDEX parts_object ON parts(object);
CREATE INDEX parts_name ON parts(name);
`,
	// 4: encoding settings of the store and of each model; how an object's
	// reference was chosen; sketches of tensor objects for similarity.
	`
CREATE TABLE store_settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE model_settings (
	model TEXT NOT NULL REFERENCES models(name) ON UPDATE CASCADE ON DELETE CASCADE,
	key   TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (model, key)
) WITHOUT ROWID;

ALTER TABLE objects ADD COLUMN ref_match TEXT NOT NULL DEFAULT '';
ALTER TABLE objects ADD COLUMN ref_similarity REAL NOT NULL DEFAULT 0;

CREATE TABLE sketches (
	object TEXT PRIMARY KEY REFERENCES objects(id) ON DELETE CASCADE,
	sketch BLOB NOT NULL
) WITHOUT ROWID;
`,
	// 5: the owner of each entry. NULL (entries of older catalogs) means
	// whoever serves the store: the user running the mount or the command.
	`
ALTER TABLE entries ADD COLUMN uid INTEGER;
ALTER TABLE entries ADD COLUMN gid INTEGER;
`,
	// 6: the change log other mounts of the store poll: every path whose
	// entry is created, replaced, changed, renamed (old and new path) or
	// deleted, and every model whose base is set, in commit order. The
	// triggers write it in the transaction of the change; the committing
	// catalog stamps its rows with its origin before commit and prunes all
	// but the newest rows (see changes.go).
	`
CREATE TABLE changes (
	seq    INTEGER PRIMARY KEY AUTOINCREMENT,
	path   TEXT NOT NULL,
	origin TEXT
);
CREATE INDEX changes_unstamped ON changes(seq) WHERE origin IS NULL;

CREATE TRIGGER entries_changes_insert AFTER INSERT ON entries BEGIN
	INSERT INTO changes(path) VALUES (NEW.path);
END;
CREATE TRIGGER entries_changes_update AFTER UPDATE ON entries BEGIN
	INSERT INTO changes(path) VALUES (NEW.path);
	INSERT INTO changes(path) SELECT OLD.path WHERE OLD.path <> NEW.path;
END;
CREATE TRIGGER entries_changes_delete AFTER DELETE ON entries BEGIN
	INSERT INTO changes(path) VALUES (OLD.path);
END;
CREATE TRIGGER models_changes_base AFTER UPDATE OF base ON models BEGIN
	INSERT INTO changes(path) VALUES (NEW.name);
END;
`,
	// 7: the owner and modification time of a pending file, given to
	// it when it is stored after a crash (NULL: the user serving the
	// store, and the time it is stored).
	`
ALTER TABLE pending ADD COLUMN uid INTEGER;
ALTER TABLE pending ADD COLUMN gid INTEGER;
ALTER TABLE pending ADD COLUMN mtime INTEGER;
`,
	// 8: garbage collection beside writers (leases.go): the objects a
	// session's commit in progress will name, and the objects a
	// collection is removing (times in nanoseconds since the epoch).
	`
CREATE TABLE leases (
	object  TEXT NOT NULL,
	session TEXT NOT NULL,
	taken   INTEGER NOT NULL,
	PRIMARY KEY (object, session)
) WITHOUT ROWID;
CREATE INDEX leases_session ON leases(session);

CREATE TABLE doomed (
	object  TEXT NOT NULL,
	session TEXT NOT NULL,
	since   INTEGER NOT NULL,
	PRIMARY KEY (object, session)
) WITHOUT ROWID;
CREATE INDEX doomed_session ON doomed(session);
`,
	// 9: what the path of a pending file held when the file was
	// recorded: it is not stored over a newer file ('': not known).
	`
ALTER TABLE pending ADD COLUMN holds TEXT NOT NULL DEFAULT '';
`,
}

// schemaVersion is the version this build writes.
var schemaVersion = len(migrations)
