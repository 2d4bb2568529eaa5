// Package embedredis runs an in-process Redis-compatible server (miniredis)
// for Waymark's embedded mode, so `waymark serve` needs nothing installed.
//
// miniredis keeps nothing on disk and only expires keys when told to, so a
// ticker advances its clock every second (Asynq's lease and heartbeat keys
// rely on expiry). Losing it loses the schedule, never the truth: the
// database holds every run and the reconciler re-enqueues work at start.
//
// The server listens on a random loopback port, where any local process
// can reach it, so it requires a password drawn at random at each start
// (AUTH; a connection without it gets NOAUTH). URL carries the password,
// and every client Waymark makes is built from that URL.
package embedredis

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Server is a running embedded Redis.
type Server struct {
	m    *miniredis.Miniredis
	pass string
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// Start listens on a random loopback port and requires a new random
// password (256 bits) from every connection.
func Start() (*Server, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("starting embedded Redis: drawing its password: %w", err)
	}
	pass := hex.EncodeToString(b)
	m := miniredis.NewMiniRedis()
	// Before StartAddr: no connection is ever served without the password.
	m.RequireAuth(pass)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("starting embedded Redis: %w", err)
	}
	s := &Server{m: m, pass: pass, stop: make(chan struct{})}
	s.wg.Add(1)
	go s.expire()
	return s, nil
}

func (s *Server) expire() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.m.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Addr is host:port to dial; the connection must AUTH with Password.
func (s *Server) Addr() string { return s.m.Addr() }

// Password is the password this start drew; it is never logged.
func (s *Server) Password() string { return s.pass }

// URL is a redis:// URL for the server, with its password (hex, so it
// needs no escaping). It is a secret: do not log it.
func (s *Server) URL() string { return "redis://:" + s.pass + "@" + s.m.Addr() }

// Close stops the server; its data is gone.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.m.Close()
	})
}
