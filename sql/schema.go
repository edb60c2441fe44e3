// Package schema holds the SQL that builds pggraph's three central
// databases, as versioned files embedded in every binary that needs them.
//
// It lives in the directory sql/, where the original kept its SQL, but is named schema,
// so that importing it does not shadow database/sql:
//
//	import "github.com/pggraph/pggraph/sql"   // package schema
//
// The files are sql/<kind>/NNNN_name.sql, where kind is one of Samples,
// Clients and Users and NNNN is the version a file brings its database to:
// 0001 first, no gaps. A database records the versions applied to it in its
// table schema_version(version, name, applied); internal/store applies the
// pending ones (pggraph-admin setup), each database's in one transaction,
// as role Owner so that Owner owns every object they create.
//
// The files name the roles Owner and WebRole literally: those two names are
// fixed, whatever the databases are called.
package schema

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
)

// Kinds of central database: the directories under sql/ and the default
// database names.
const (
	// Samples is the samples database ([local] database in config.ini,
	// "pggraph" by default): the clients' <prefix>_… tables.
	Samples = "pggraph"
	// Clients is pggraph_clients: table clients.
	Clients = "pggraph_clients"
	// Users is pggraph_users: tables client_users and client_access_log.
	Users = "pggraph_users"
)

// Roles the SQL files grant to.
const (
	// Owner owns the three databases and everything in them; the collector
	// and the installer connect as Owner.
	Owner = "pggraph"
	// WebRole is the CGI's and Apache's login: it reads samples, clients
	// and users, and appends to the access log.
	WebRole = "pggraph_web"
)

// Kinds returns the kinds of central database in the order setup creates
// them.
func Kinds() []string { return []string{Samples, Clients, Users} }

// Migration is one SQL file: it brings its database from Version-1 to
// Version.
type Migration struct {
	Version int
	Name    string // file name without number and extension, e.g. "init"
	SQL     string
}

// String is the file name without extension, e.g. "0001_init".
func (m Migration) String() string { return fmt.Sprintf("%04d_%s", m.Version, m.Name) }

//go:embed pggraph/*.sql pggraph_clients/*.sql pggraph_users/*.sql
var files embed.FS

var fileName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// Migrations returns the migrations of a kind of database in version
// order. It fails for an unknown kind, a file not named NNNN_name.sql, or
// versions that do not run 1, 2, 3… without gaps.
func Migrations(kind string) ([]Migration, error) {
	if !known(kind) {
		return nil, fmt.Errorf("schema: unknown database kind %q", kind)
	}
	entries, err := fs.ReadDir(files, kind)
	if err != nil {
		return nil, fmt.Errorf("schema: %s: %w", kind, err)
	}
	var ms []Migration
	for _, e := range entries { // ReadDir sorts by name, hence by version
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("schema: %s/%s: not named NNNN_name.sql", kind, e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if v != len(ms)+1 {
			return nil, fmt.Errorf("schema: %s/%s: version %d, want %d", kind, e.Name(), v, len(ms)+1)
		}
		b, err := files.ReadFile(path.Join(kind, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("schema: %s/%s: %w", kind, e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: m[2], SQL: string(b)})
	}
	return ms, nil
}

// Latest returns the version the migrations of kind bring a database to,
// 0 for an unknown kind.
func Latest(kind string) int {
	ms, err := Migrations(kind)
	if err != nil {
		return 0
	}
	return len(ms)
}

func known(kind string) bool {
	for _, k := range Kinds() {
		if k == kind {
			return true
		}
	}
	return false
}
