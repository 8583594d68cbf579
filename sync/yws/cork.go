package yws

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// corkConn lets a connection's writer put several WebSocket frames on the
// wire with one write system call: between cork and flush, writes are
// buffered. Frames written by other goroutines (pongs, close frames) are
// buffered too while corked, and are otherwise written directly; mu keeps
// every frame whole and in order. flush also applies the write deadline,
// so a client that stops reading cannot block its writer forever.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

// maxIdleCorkBuf is the buffer capacity kept between flushes.
const maxIdleCorkBuf = 4 << 10

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// flush writes what was buffered since cork, within timeout.
func (c *corkConn) flush(timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	var err error
	if err = c.Conn.SetWriteDeadline(time.Now().Add(timeout)); err == nil {
		_, err = c.Conn.Write(c.buf)
		if derr := c.Conn.SetWriteDeadline(time.Time{}); err == nil {
			err = derr
		}
	}
	if cap(c.buf) > maxIdleCorkBuf {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// corkingWriter hands websocket.Accept a corkConn when it hijacks the
// connection.
type corkingWriter struct {
	http.ResponseWriter
	conn *corkConn
}

var errNotHijacker = errors.New("yws: ResponseWriter cannot hijack")

// Hijack implements http.Hijacker.
func (w *corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, errors.Join(errNotHijacker, err)
	}
	w.conn = &corkConn{Conn: nc}
	return w.conn, brw, nil
}
