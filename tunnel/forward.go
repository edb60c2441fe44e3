package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Forward accepts connections on ln and joins each to a new connection to
// the target through the chain, until ctx ends (it then returns nil) or the
// tunnel ends (it returns Err). It closes ln and every connection it joined
// before returning. A connection whose target cannot be reached is closed
// and logged; the listener goes on.
func (t *Tunnel) Forward(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
		case <-t.done:
		}
		ln.Close()
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		local, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if terr := t.Err(); terr != nil {
				return terr
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		wg.Go(func() { t.join(ctx, local) })
	}
}

// join copies between local and a new connection to the target until
// either side closes or ctx ends.
func (t *Tunnel) join(ctx context.Context, local net.Conn) {
	defer local.Close()
	from := local.RemoteAddr().String()
	remote, err := t.Dial(ctx)
	if err != nil {
		t.log.Warn("forward: cannot reach postgresql", "from", from, "error", err)
		return
	}
	defer remote.Close()
	t.log.Debug("forward: connection open", "from", from)
	stop := context.AfterFunc(ctx, func() {
		local.Close()
		remote.Close()
	})
	defer stop()

	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			t.log.Debug("forward: copy ended", "from", from, "error", err)
		}
		closeWrite(dst)
		done <- struct{}{}
	}
	go pipe(remote, local)
	go pipe(local, remote)
	<-done
	<-done
	t.log.Debug("forward: connection closed", "from", from)
}

// closeWrite half-closes c when it can (TCP and SSH channels both can), so
// that the peer sees end of input while its answer still flows back.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
