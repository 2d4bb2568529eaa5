// Package store keeps Waymark's data in SQLite (embedded mode) or PostgreSQL
// (production) through gorm. It is the only package that talks SQL: it
// returns domain types, never its row structs, and maps database errors to
// ErrNotFound and ErrConflict.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/waymarkhq/waymark/migrations"
)

// Dialects Waymark speaks.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

var (
	// ErrNotFound is returned when the row asked for does not exist (or
	// belongs to another workspace).
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a write would break a unique rule or an
	// expected revision no longer matches.
	ErrConflict = errors.New("conflict")
)

// Store is the handle on the database.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB        // the pool under db, for the hot paths written in plain SQL (see batch_pg.go)
	group   *committer     // group commit of those hot paths (PostgreSQL; see batch.go)
	lite    *liteCommitter // group commit of the hot paths on SQLite (batch_sqlite.go)
	dialect string
	now     func() time.Time
}

// Options tune Open.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxOpenConns caps PostgreSQL connections (SQLite always uses one).
	MaxOpenConns int
	// Logger receives slow-query and error logs; nil discards them.
	Logger *slog.Logger
}

// ParseURL checks a database URL and returns its dialect and the DSN for the
// driver. Accepted forms: postgres://… or postgresql://… and sqlite:PATH
// (also sqlite://PATH and file:PATH).
func ParseURL(raw string) (dialect, dsn string, err error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil {
			return "", "", fmt.Errorf("malformed PostgreSQL URL: %v", redact(err))
		}
		if u.Host == "" {
			return "", "", errors.New("PostgreSQL URL has no host")
		}
		return DialectPostgres, raw, nil
	case strings.HasPrefix(raw, "sqlite:"), strings.HasPrefix(raw, "file:"):
		p := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite:"), "file:")
		p = strings.TrimPrefix(p, "//")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if p == "" {
			return "", "", errors.New("SQLite URL has no file path (want sqlite:./data/waymark.db)")
		}
		return DialectSQLite, p, nil
	case raw == "":
		return "", "", errors.New("empty database URL")
	default:
		scheme := raw
		if i := strings.Index(raw, ":"); i >= 0 {
			scheme = raw[:i]
		}
		return "", "", fmt.Errorf("unsupported database URL scheme %q (want postgres://… or sqlite:PATH)", scheme)
	}
}

// expectedErrors keeps unique-key violations out of the error log: the
// store uses them on purpose (idempotency keys, one delivery per step) and
// returns them as ErrConflict. Queries cancelled by their caller (a
// process shutting down, a client gone) are not database errors either.
// Slow queries are still logged.
type expectedErrors struct{ logger.Interface }

func (l expectedErrors) LogMode(level logger.LogLevel) logger.Interface {
	return expectedErrors{l.Interface.LogMode(level)}
}

func (l expectedErrors) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if err != nil && (isUniqueViolation(err) || errors.Is(err, context.Canceled)) {
		err = nil
	}
	l.Interface.Trace(ctx, begin, fc, err)
}

func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	return errors.Is(err, gorm.ErrDuplicatedKey) || strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// oneLine folds a multi-line driver error into one line for logs and the CLI.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// redact keeps a password in a URL parse error out of logs.
func redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// Open connects to the database named by rawURL. It does not migrate.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	dialect, dsn, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg := &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	var db *gorm.DB
	switch dialect {
	case DialectPostgres:
		db, err = gorm.Open(postgres.Open(dsn), cfg)
	case DialectSQLite:
		if dir := filepath.Dir(dsn); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("creating data directory %s: %w", dir, err)
			}
		}
		if err := privateFiles(dsn); err != nil {
			return nil, err
		}
		// temp_store(MEMORY): the group commit puts each caller in a
		// savepoint, and SQLite keeps the pages a savepoint may have to
		// restore in a statement journal, a temporary file once it passes
		// 64 KiB (every batch did: 12 % of the embedded flow benchmark's
		// CPU in write calls). In memory it is the same journal without
		// the file; it only ever serves ROLLBACK TO within the open
		// transaction, so durability (the WAL) is unchanged.
		q := "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_txlock=immediate"
		db, err = gorm.Open(sqlite.Open(dsn+q), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to %s database: %s", dialect, oneLine(err))
	}
	if opts.Logger != nil {
		// Set after Open: gorm logs connection failures itself, and the
		// caller already reports them as one line.
		db.Logger = expectedErrors{logger.NewSlogLogger(opts.Logger, logger.Config{
			SlowThreshold:             500 * time.Millisecond,
			LogLevel:                  logger.Warn,
			IgnoreRecordNotFoundError: true,
			ParameterizedQueries:      true,
		})}
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if dialect == DialectSQLite {
		// One connection: SQLite has one writer, and queued writers on
		// several connections stall for seconds (see FIELD-NOTES).
		sqlDB.SetMaxOpenConns(1)
	} else {
		n := opts.MaxOpenConns
		if n <= 0 {
			n = 20
		}
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connecting to %s database: %s", dialect, oneLine(err))
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	st := &Store{db: db, sqlDB: sqlDB, dialect: dialect, now: now}
	if dialect == DialectPostgres {
		st.group = newCommitter(sqlDB)
	} else {
		st.lite = newLiteCommitter(sqlDB)
	}
	return st, nil
}

// Dialect reports "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close releases the connections.
func (s *Store) Close() error {
	if s.group != nil {
		s.group.close()
	}
	if s.lite != nil {
		s.lite.close()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Migrate applies every pending migration, each in its own transaction, and
// records it in the goose_db_version table. It returns the versions applied.
func (s *Store) Migrate(ctx context.Context) ([]int64, error) {
	p, err := s.migrationProvider()
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("applying migrations: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// SchemaVersion reports the current and the newest embedded migration version.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := s.migrationProvider()
	if err != nil {
		return 0, 0, err
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, err
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		latest = srcs[len(srcs)-1].Version
	}
	return current, latest, nil
}

func (s *Store) migrationProvider() (*goose.Provider, error) {
	fsys, err := migrations.FS(s.dialect)
	if err != nil {
		return nil, err
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.dialect == DialectPostgres {
		dialect = goose.DialectPostgres
		// Several processes may start at once in split mode: an advisory
		// lock makes them take turns.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, sqlDB, fsys, opts...)
}

// withTx runs fn in one transaction.
func (s *Store) withTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.db.WithContext(ctx).Transaction(fn)
}

// dbErr maps gorm errors to the domain's.
func dbErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound), errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%s: %w", what, ErrConflict)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// NewID returns a new time-ordered unique id (UUIDv7).
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

func (s *Store) nowUTC() time.Time { return s.now().UTC() }

// privateFiles makes the SQLite database readable by its owner only,
// whatever the umask or the mode of a data directory the operator made:
// it holds profiles (personal data), password hashes and sealed secrets.
// The file is created 0600 before SQLite opens it (an empty file is an
// empty database), and SQLite creates its -wal and -shm files with the
// database's mode; files left more open by an earlier version are
// narrowed.
func privateFiles(path string) error {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("creating database file %s: %w", path, err)
	}
	_ = f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			continue // no -wal or -shm yet
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, 0o600); err != nil {
				return fmt.Errorf("making %s private: %w", p, err)
			}
		}
	}
	return nil
}
