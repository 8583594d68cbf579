package mail_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/internal/pgtest"
	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/call"
	"github.com/webhost-systems/webhost/providers/mail"
	"github.com/webhost-systems/webhost/providers/providertest"
)

// smtpServer is a minimal SMTP peer recording what it receives. replies
// overrides the reply to a command verb (e.g. "RCPT": "451 try later"),
// consumed once each.
type smtpServer struct {
	addr    string
	mu      sync.Mutex
	msgs    []string
	replies map[string][]string
}

func newSMTP(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{addr: ln.Addr().String(), replies: map[string][]string{}}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpServer) override(verb string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.replies[verb]; len(r) > 0 {
		s.replies[verb] = r[1:]
		return r[0], true
	}
	return "", false
}

func (s *smtpServer) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	w := func(line string) { _, _ = conn.Write([]byte(line + "\r\n")) }
	w("220 sim ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(strings.TrimSpace(line) + " x")[0])
		if rep, ok := s.override(verb); ok {
			w(rep)
			continue
		}
		switch verb {
		case "EHLO", "HELO":
			w("250-sim")
			w("250 8BITMIME")
		case "MAIL", "RCPT", "RSET", "NOOP":
			w("250 ok")
		case "DATA":
			w("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.mu.Unlock()
			w("250 queued")
		case "QUIT":
			w("221 bye")
			return
		default:
			w("502 unknown")
		}
	}
}

func (s *smtpServer) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		if strings.Contains(m, "Message-ID: <"+id+"@webhost>") {
			n++
		}
	}
	return n
}

func fast() call.Policy {
	return call.Policy{BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, AttemptTimeout: 5 * time.Second}
}

func TestAcceptanceSMTPWithOutboxDedup(t *testing.T) {
	pool := pgtest.MustPool(t)
	if err := migrate.Up(context.Background(), pool, nil, mail.Migrations); err != nil {
		t.Fatal(err)
	}
	srv := newSMTP(t)
	m, err := mail.New(mail.Config{SMTPAddr: srv.addr, Pool: pool, Retry: fast()})
	if err != nil {
		t.Fatal(err)
	}
	providertest.Mailer(t, m, srv.count)
	got, err := mail.List(context.Background(), pool, mail.ListOptions{Status: "sent"})
	if err != nil || len(got) != 1 || got[0].SentAt == nil {
		t.Fatalf("List(sent) = %+v, %v", got, err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if !strings.Contains(srv.msgs[0], "\r\n..\r\n") {
		t.Fatalf("a body line with a lone dot must be dot-stuffed on the wire:\n%q", srv.msgs[0])
	}
}

func TestAcceptanceOutbox(t *testing.T) {
	pool := pgtest.MustPool(t)
	ctx := context.Background()
	if err := migrate.Up(ctx, pool, nil, mail.Migrations); err != nil {
		t.Fatal(err)
	}
	m, err := mail.New(mail.Config{Pool: pool, Retry: fast()})
	if err != nil {
		t.Fatal(err)
	}
	providertest.Mailer(t, m, func(id string) int {
		msgs, err := mail.List(ctx, pool, mail.ListOptions{Status: "stored"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, msg := range msgs {
			if msg.ID == id {
				n++
			}
		}
		return n
	})
}

func TestTransientSMTPReplyRetried(t *testing.T) {
	srv := newSMTP(t)
	srv.replies["RCPT"] = []string{"451 4.3.0 try again later"}
	m, err := mail.New(mail.Config{SMTPAddr: srv.addr, Retry: fast()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), processes.MailMessage{ID: "m1", To: "a@example.com", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	if srv.count("m1") != 1 {
		t.Fatal("not delivered")
	}
}

func TestPermanentSMTPReplyNotRetried(t *testing.T) {
	srv := newSMTP(t)
	srv.replies["RCPT"] = []string{"550 5.1.1 no such user", "550 5.1.1 no such user"}
	m, err := mail.New(mail.Config{SMTPAddr: srv.addr, Retry: fast()})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Send(context.Background(), processes.MailMessage{ID: "m2", To: "nobody@example.com", Subject: "s", Text: "t"})
	providertest.RequireKind(t, err, processes.ErrPermanent)
	if left := len(srv.replies["RCPT"]); left != 1 {
		t.Fatalf("RCPT attempts = %d, want 1", 2-left)
	}
}

func TestTimeoutRespectsContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never greets
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	m, err := mail.New(mail.Config{SMTPAddr: ln.Addr().String(), Retry: fast()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = m.Send(ctx, processes.MailMessage{ID: "m3", To: "a@example.com", Subject: "s", Text: "t"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := mail.New(mail.Config{}); !errors.Is(err, mail.ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	if _, err := mail.New(mail.Config{SMTPAddr: "mail.example.com:587", SMTPUsername: "u"}); !errors.Is(err, mail.ErrInvalidConfig) {
		t.Fatalf("username without password: %v", err)
	}
}
