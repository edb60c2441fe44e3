package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	schema "github.com/pggraph/pggraph/sql"
)

// ErrNoUser is wrapped by the errors of Users methods about a web user
// that does not exist.
var ErrNoUser = errors.New("no such user")

// ErrUserExists is wrapped by AddUser's error when the user name is taken.
var ErrUserExists = errors.New("user already exists")

// maxUserName bounds a web user name, in bytes. Apache passes it to the
// database and the CGI logs it: anything longer is a mistake.
const maxUserName = 128

// CheckUserName returns an error unless name can be a web user's name:
// 1 to 128 bytes of valid UTF-8 without ':' (htpasswd's separator),
// control characters or spaces at either end.
func CheckUserName(name string) error {
	switch {
	case name == "":
		return errors.New("user name is empty")
	case len(name) > maxUserName:
		return fmt.Errorf("user name is longer than %d bytes", maxUserName)
	case !utf8.ValidString(name):
		return fmt.Errorf("user name %q is not valid UTF-8", name)
	case strings.ContainsRune(name, ':'):
		return fmt.Errorf("user name %q contains ':'", name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("user name %q starts or ends with a space", name)
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("user name %q contains a control character", name)
	}
	return nil
}

// User is one row of pggraph_users.client_users: a web login allowed to see
// one client's pages.
type User struct {
	Name   string // user_name: the HTTP Basic auth login
	Hash   string // user_passwd: a hash Apache verifies (bcrypt, $apr1$, {SHA}, crypt)
	Client string // client: the prefix whose pages the user may see
}

// Access is one row of pggraph_users.client_access_log: one request the CGI
// answered.
type Access struct {
	Login   string    // REMOTE_USER; "" is stored as NULL
	Date    time.Time // when; zero means the database's now()
	Request string    // REQUEST_URI
	IP      string    // REMOTE_ADDR; "" is stored as NULL
	Status  int       // HTTP status sent
}

// Users is the pggraph_users database: the web users (pggraph-admin user
// …) and the access log (the CGI). It holds one connection; like Store it
// is for one goroutine at a time.
//
// pggraph_web may read client_users and append to client_access_log, so
// the CGI opens Users as pggraph_web; changing users needs pggraph (or a
// superuser).
type Users struct {
	conn *pgx.Conn
	srv  Server
}

// OpenUsers connects to pggraph_users on the server srv reaches.
func OpenUsers(ctx context.Context, srv Server) (*Users, error) {
	conn, err := dial(ctx, srv, schema.Users)
	if err != nil {
		return nil, err
	}
	return &Users{conn: conn, srv: srv}, nil
}

// Close closes the connection, or keeps it for reuse (Server.Idle).
func (u *Users) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	if err := hangUp(ctx, u.srv, u.conn.Config().Database, u.conn); err != nil {
		return fmt.Errorf("close %s connection: %w", schema.Users, err)
	}
	return nil
}

// checkUser validates a user row before it is written.
func checkUser(x User) error {
	if err := CheckUserName(x.Name); err != nil {
		return err
	}
	if err := CheckPrefix(x.Client); err != nil && x.Client != AllClients {
		return err
	}
	if x.Hash == "" || strings.ContainsAny(x.Hash, ":\r\n") {
		return fmt.Errorf("user %s: password hash is empty or holds ':' or a line break", x.Name)
	}
	return nil
}

// AllClients is the client of an operator's web user: every client's
// pages, and the all-clients page.
const AllClients = "*"

// AddUser inserts a new web user. It fails with an error wrapping
// ErrUserExists when the name is taken (by any client: names are unique
// across clients, as Apache looks users up by name only).
func (u *Users) AddUser(ctx context.Context, x User) error {
	if err := checkUser(x); err != nil {
		return fmt.Errorf("add user: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var client string
	err := u.conn.QueryRow(ctx, `
WITH ins AS (
	INSERT INTO client_users (user_name, user_passwd, client) VALUES ($1, $2, $3)
	ON CONFLICT (user_name) DO NOTHING
	RETURNING ''
)
SELECT '' FROM ins
UNION ALL
SELECT client FROM client_users WHERE user_name = $1 AND NOT EXISTS (SELECT FROM ins)`,
		x.Name, x.Hash, x.Client).Scan(&client)
	if err != nil {
		return fmt.Errorf("add user %s: %w", x.Name, err)
	}
	if client != "" {
		return fmt.Errorf("add user %s: %w (client %s)", x.Name, ErrUserExists, client)
	}
	return nil
}

// SetPassword replaces a user's password hash. It fails with an error
// wrapping ErrNoUser when there is no such user.
func (u *Users) SetPassword(ctx context.Context, name, hash string) error {
	if err := CheckUserName(name); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if hash == "" || strings.ContainsAny(hash, ":\r\n") {
		return fmt.Errorf("set password of user %s: hash is empty or holds ':' or a line break", name)
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	tag, err := u.conn.Exec(ctx, `UPDATE client_users SET user_passwd = $2 WHERE user_name = $1`, name, hash)
	if err != nil {
		return fmt.Errorf("set password of user %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set password of user %s: %w", name, ErrNoUser)
	}
	return nil
}

// DeleteUser deletes a user and returns the client it belonged to. It
// fails with an error wrapping ErrNoUser when there is no such user. The
// user's rows in the access log are kept.
func (u *Users) DeleteUser(ctx context.Context, name string) (client string, err error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	err = u.conn.QueryRow(ctx, `DELETE FROM client_users WHERE user_name = $1 RETURNING client`, name).Scan(&client)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("delete user %s: %w", name, ErrNoUser)
	}
	if err != nil {
		return "", fmt.Errorf("delete user %s: %w", name, err)
	}
	return client, nil
}

// ListUsers returns the users of client, or of every client when client
// is "", by client and name.
func (u *Users) ListUsers(ctx context.Context, client string) ([]User, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	rows, err := u.conn.Query(ctx, `
SELECT user_name, user_passwd, client FROM client_users
WHERE $1 = '' OR client = $1
ORDER BY client, user_name`, client)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (User, error) {
		var x User
		err := row.Scan(&x.Name, &x.Hash, &x.Client)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// Imported is what ImportUsers did.
type Imported struct {
	Added   []string // new users
	Updated []string // users of the same client whose hash was replaced
	// Refused are users that exist for another client, left unchanged.
	Refused []User // Name and Client (the other client); Hash is empty
}

// ImportUsers adds users to client in one transaction: a new name is
// inserted, a name the client already has gets the new hash, and a name
// of another client is left alone and reported in Refused. Each user's
// Client field is ignored (client is used). Nothing is written when an
// error is returned.
func (u *Users) ImportUsers(ctx context.Context, client string, users []User) (Imported, error) {
	var res Imported
	for _, x := range users {
		x.Client = client
		if err := checkUser(x); err != nil {
			return Imported{}, fmt.Errorf("import users: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	tx, err := u.conn.Begin(ctx)
	if err != nil {
		return Imported{}, fmt.Errorf("import users to client %s: %w", client, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, x := range users {
		var owner string
		var inserted bool
		err := tx.QueryRow(ctx, `
INSERT INTO client_users AS c (user_name, user_passwd, client) VALUES ($1, $2, $3)
ON CONFLICT (user_name) DO UPDATE SET user_passwd = EXCLUDED.user_passwd
	WHERE c.client = EXCLUDED.client
RETURNING client, xmax = 0`, x.Name, x.Hash, client).Scan(&owner, &inserted)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if err := tx.QueryRow(ctx, `SELECT client FROM client_users WHERE user_name = $1`, x.Name).Scan(&owner); err != nil {
				return Imported{}, fmt.Errorf("import user %s to client %s: %w", x.Name, client, err)
			}
			res.Refused = append(res.Refused, User{Name: x.Name, Client: owner})
		case err != nil:
			return Imported{}, fmt.Errorf("import user %s to client %s: %w", x.Name, client, err)
		case inserted:
			res.Added = append(res.Added, x.Name)
		default:
			res.Updated = append(res.Updated, x.Name)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Imported{}, fmt.Errorf("import users to client %s: commit: %w", client, err)
	}
	return res, nil
}

// UserClient returns the client whose pages the user may see. It fails
// with an error wrapping ErrNoUser when there is no such user.
func (u *Users) UserClient(ctx context.Context, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var client string
	err := u.conn.QueryRow(ctx, `SELECT client FROM client_users WHERE user_name = $1`, name).Scan(&client)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("look up web user: %w", ErrNoUser)
	}
	if err != nil {
		return "", fmt.Errorf("look up web user: %w", err)
	}
	return client, nil
}

// LogAccess appends rows to client_access_log, in one statement and one
// round trip. Invalid UTF-8 in the text fields is stored as U+FFFD and
// each request is cut to 2,000 bytes.
func (u *Users) LogAccess(ctx context.Context, rows ...Access) error {
	if len(rows) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	const maxRequest = 2000
	n := len(rows)
	logins, reqs, ips := make([]string, n), make([]string, n), make([]string, n)
	dates, statuses := make([]*time.Time, n), make([]int32, n)
	for i, a := range rows {
		req := strings.ToValidUTF8(a.Request, "\uFFFD")
		if len(req) > maxRequest {
			req = strings.ToValidUTF8(req[:maxRequest], "")
		}
		logins[i], reqs[i], ips[i] = strings.ToValidUTF8(a.Login, "\uFFFD"), req, strings.ToValidUTF8(a.IP, "\uFFFD")
		if !a.Date.IsZero() {
			dates[i] = &a.Date
		}
		statuses[i] = int32(a.Status)
	}
	// One round trip, and no wait for the WAL to reach the disk: losing
	// the last access rows in a crash of the central server is better than
	// making every page and image wait for an fsync.
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit TO off`)
	b.Queue(`
INSERT INTO client_access_log (login, date, request, ip_address, status)
SELECT nullif(l, ''), coalesce(d, now()), r, nullif(i, ''), s
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::int[]) AS a(l, d, r, i, s)`,
		logins, dates, reqs, ips, statuses)
	b.Queue(`COMMIT`)
	if err := u.conn.SendBatch(ctx, b).Close(); err != nil {
		// A failed INSERT leaves the transaction open and aborted.
		_, _ = u.conn.Exec(ctx, `ROLLBACK`)
		return fmt.Errorf("append %d rows to client_access_log: %w", n, err)
	}
	return nil
}

// LastCollected returns when the client's data last changed: the time of
// the snapshot its last run wrote (<prefix>_state.taken), or, before any
// run wrote one, the start of its last run in the clients table. It is
// zero when the client was never collected. The web pages derive their
// ETag and Last-Modified from it.
func (s *Store) LastCollected(ctx context.Context, prefix string) (time.Time, error) {
	if err := CheckPrefix(prefix); err != nil {
		return time.Time{}, fmt.Errorf("last collection: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var taken *time.Time
	state := tables{prefix: prefix}.state()
	err := s.samples.QueryRow(ctx, `SELECT taken FROM `+pgx.Identifier{state}.Sanitize()).Scan(&taken)
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows), errors.As(err, &pe) && pe.Code == "42P01": // undefined_table
		taken = nil
	case err != nil:
		return time.Time{}, fmt.Errorf("last collection of client %s: %w", prefix, err)
	}
	if taken != nil {
		return *taken, nil
	}
	clients, err := s.clients(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("last run of client %s: %w", prefix, err)
	}
	err = clients.QueryRow(ctx, `SELECT last_run FROM clients WHERE prefix = $1`, prefix).Scan(&taken)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && taken == nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("last run of client %s: %w", prefix, err)
	}
	return *taken, nil
}
