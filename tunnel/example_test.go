package tunnel_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/pggraph/pggraph/internal/config"
	"github.com/pggraph/pggraph/tunnel"
)

// Open a client's tunnel as its config.ini describes, and query its
// PostgreSQL through it: no local port is opened.
func Example() {
	ctx := context.Background()
	cfg, err := config.Load("/var/www/pggraph/acme/config.ini")
	if err != nil {
		log.Fatal(err)
	}
	tun, err := tunnel.Open(ctx, tunnel.FromConfig(cfg, os.Getenv("SSH_AUTH_SOCK")))
	if err != nil {
		log.Fatal(err) // e.g. "bastion 203.0.113.5:22: ssh handshake: no answer in time within 7s (delay)"
	}
	defer tun.Close()

	conn, err := tun.Connect(ctx, cfg.Remote.User, cfg.Remote.Password, "postgres")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		log.Fatal(err)
	}
	fmt.Println(version)
}

// A twin tunnel: the bastion forwards a TCP stream to the database host's
// sshd, and pggraph logs in to both, checking each host key.
func ExampleOpen_twin() {
	tun, err := tunnel.Open(context.Background(), tunnel.Config{
		Hops:       []string{"bastion.example.com:22", "10.0.0.5:22"},
		Target:     "localhost:5432", // as seen from 10.0.0.5
		User:       "cmd",
		Keyfile:    "/home/pggraph/.ssh/id_ed25519",
		KnownHosts: "/home/pggraph/.ssh/known_hosts",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer tun.Close()
	c, err := tun.Dial(context.Background()) // a connection to localhost:5432 on 10.0.0.5
	if err != nil {
		log.Fatal(err)
	}
	c.Close()
}

// Serve a local port for psql, as pggraph-forward does, until ctx ends.
func ExampleTunnel_Forward() {
	ctx := context.Background()
	tun, err := tunnel.Open(ctx, tunnel.Config{Target: "127.0.0.1:5432"}) // no hops: no tunnel
	if err != nil {
		log.Fatal(err)
	}
	defer tun.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:7555")
	if err != nil {
		log.Fatal(err)
	}
	if err := tun.Forward(ctx, ln); err != nil {
		log.Fatal(err)
	}
}
