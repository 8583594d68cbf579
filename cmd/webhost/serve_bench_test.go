package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkReadAPI drives GET /v1/me open-loop at fixed request rates (a
// Go load generator: one request per tick, whatever the latency) and
// reports p50 and p99 latency. impl=api goes through the whole API (Huma,
// key lookup, rate limiter, read model, secrets); impl=baseline is a bare
// net/http handler running the same read-model query on the same pool.
func BenchmarkReadAPI(b *testing.B) {
	e := startServe(b, 1e9, 1<<30)
	a := e.signUp("bench")
	if r := e.do("GET", "/v1/me", a.key, nil, minPos(a.position)); r.status != 200 {
		b.Fatalf("me: %d %s", r.status, r.raw)
	}
	baseline := http.NewServeMux()
	baseline.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		var slug, status string
		err := e.m.platform.pool.QueryRow(r.Context(), `SELECT slug, status FROM read.customers WHERE customer_id = $1`, a.customerID).Scan(&slug, &status)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, `{"slug":%q,"status":%q}`, slug, status)
	})
	srv := &http.Server{Handler: baseline}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}, Timeout: 10 * time.Second}
	for _, rate := range []int{200, 1000} {
		for _, impl := range []string{"baseline", "api"} {
			url, key := "http://"+ln.Addr().String()+"/me", ""
			if impl == "api" {
				url, key = e.m.URL()+"/v1/me", a.key
			}
			b.Run(fmt.Sprintf("rate=%d/impl=%s", rate, impl), func(b *testing.B) {
				var lat []time.Duration
				for range b.N {
					lat = append(lat, load(b, client, url, key, rate, time.Second)...)
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}

// load sends rate requests per second for d, open loop, and returns the
// latencies. Any non-200 answer fails the benchmark.
func load(b *testing.B, client *http.Client, url, key string, rate int, d time.Duration) []time.Duration {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var lat []time.Duration
	var failed error
	for now := range tick.C {
		if now.After(end) {
			break
		}
		wg.Add(1)
		go func(sent time.Time) {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			res, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					err = fmt.Errorf("status %d", res.StatusCode)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && failed == nil {
				failed = err
			}
			lat = append(lat, time.Since(sent))
		}(now)
	}
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	return lat
}
