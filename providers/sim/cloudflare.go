package sim

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/cloudflare/cloudflare-go"
)

type cfRecord struct {
	cloudflare.DNSRecord
	zone string
}

func cloudflareError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{
		"success": false, "errors": []cloudflare.ResponseInfo{{Code: code, Message: msg}},
		"messages": []cloudflare.ResponseInfo{}, "result": nil,
	})
}

func cfOK(w http.ResponseWriter, status int, result any, info *cloudflare.ResultInfo) {
	body := map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": result}
	if info != nil {
		body["result_info"] = info
	}
	writeJSON(w, status, body)
}

func (s *Sim) routesCloudflare() {
	h := func(pattern string, fn http.HandlerFunc) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if a := r.Header.Get("Authorization"); !strings.HasPrefix(a, "Bearer ") || len(a) <= len("Bearer ") {
				cloudflareError(w, http.StatusBadRequest, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
				return
			}
			fn(w, r)
		})
	}
	h("GET /cloudflare/client/v4/zones/{zone}/dns_records", s.cfList)
	h("POST /cloudflare/client/v4/zones/{zone}/dns_records", s.cfCreate)
	h("GET /cloudflare/client/v4/zones/{zone}/dns_records/{id}", s.cfGet)
	h("PATCH /cloudflare/client/v4/zones/{zone}/dns_records/{id}", s.cfPatch)
	h("DELETE /cloudflare/client/v4/zones/{zone}/dns_records/{id}", s.cfDelete)
	s.mux.HandleFunc("/cloudflare/", func(w http.ResponseWriter, r *http.Request) {
		cloudflareError(w, http.StatusNotFound, 7003, "Could not route to "+r.URL.Path+", perhaps your object identifier is invalid?")
	})
}

func (s *Sim) cfList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	zone := r.PathValue("zone")
	s.mu.Lock()
	var all []cloudflare.DNSRecord
	for _, rec := range s.st.records {
		if rec.zone != zone {
			continue
		}
		if n := q.Get("name"); n != "" && !strings.EqualFold(rec.Name, n) {
			continue
		}
		if t := q.Get("type"); t != "" && rec.Type != t {
			continue
		}
		if c := q.Get("content"); c != "" && rec.Content != c {
			continue
		}
		all = append(all, rec.DNSRecord)
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	page, _ := strconv.Atoi(q.Get("page"))
	per, _ := strconv.Atoi(q.Get("per_page"))
	if page < 1 {
		page = 1
	}
	if per < 1 {
		per = 100
	}
	if per > 5000 {
		per = 5000
	}
	from := min((page-1)*per, len(all))
	to := min(from+per, len(all))
	items := all[from:to]
	info := &cloudflare.ResultInfo{Page: page, PerPage: per, Count: len(items), Total: len(all),
		TotalPages: int(math.Ceil(float64(len(all)) / float64(per)))}
	cfOK(w, http.StatusOK, nonNil(items), info)
}

func validRecord(rec cloudflare.DNSRecord) string {
	switch rec.Type {
	case "A", "AAAA", "CNAME", "TXT":
	default:
		return "DNS record type is invalid."
	}
	if rec.Name == "" {
		return "DNS record name is invalid."
	}
	if rec.Content == "" {
		return "Content for " + rec.Type + " record is invalid."
	}
	return ""
}

func (s *Sim) cfCreate(w http.ResponseWriter, r *http.Request) {
	var rec cloudflare.DNSRecord
	if err := readJSON(r, &rec); err != nil {
		cloudflareError(w, http.StatusBadRequest, 9207, "Request body is invalid.")
		return
	}
	if msg := validRecord(rec); msg != "" {
		cloudflareError(w, http.StatusBadRequest, 9000+len(msg)%100, msg)
		return
	}
	zone := r.PathValue("zone")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ex := range s.st.records {
		if ex.zone != zone || !strings.EqualFold(ex.Name, rec.Name) {
			continue
		}
		if ex.Type == rec.Type && ex.Content == rec.Content {
			cloudflareError(w, http.StatusBadRequest, 81058, "An identical record already exists.")
			return
		}
		if ex.Type == "CNAME" || rec.Type == "CNAME" {
			cloudflareError(w, http.StatusBadRequest, 81053, "An A, AAAA, or CNAME record with that host already exists.")
			return
		}
		if ex.Type == rec.Type {
			cloudflareError(w, http.StatusBadRequest, 81057, "Record already exists.")
			return
		}
	}
	now := s.now().UTC()
	rec.ID = fmt.Sprintf("%032x", s.st.id())
	rec.CreatedOn, rec.ModifiedOn = now, now
	rec.Proxiable = rec.Type != "TXT"
	if rec.TTL == 0 {
		rec.TTL = 1
	}
	if rec.Proxied == nil {
		f := false
		rec.Proxied = &f
	}
	s.st.records[rec.ID] = &cfRecord{DNSRecord: rec, zone: zone}
	cfOK(w, http.StatusOK, rec, nil)
}

func (s *Sim) cfFind(w http.ResponseWriter, r *http.Request) *cfRecord {
	rec, ok := s.st.records[r.PathValue("id")]
	if !ok || rec.zone != r.PathValue("zone") {
		cloudflareError(w, http.StatusNotFound, 81044, "Record does not exist.")
		return nil
	}
	return rec
}

func (s *Sim) cfGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.cfFind(w, r); rec != nil {
		cfOK(w, http.StatusOK, rec.DNSRecord, nil)
	}
}

func (s *Sim) cfPatch(w http.ResponseWriter, r *http.Request) {
	var upd cloudflare.DNSRecord
	if err := readJSON(r, &upd); err != nil {
		cloudflareError(w, http.StatusBadRequest, 9207, "Request body is invalid.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.cfFind(w, r)
	if rec == nil {
		return
	}
	if upd.Type != "" {
		rec.Type = upd.Type
	}
	if upd.Name != "" {
		rec.Name = upd.Name
	}
	if upd.Content != "" {
		rec.Content = upd.Content
	}
	if upd.TTL != 0 {
		rec.TTL = upd.TTL
	}
	if upd.Proxied != nil {
		rec.Proxied = upd.Proxied
	}
	rec.ModifiedOn = s.now().UTC()
	cfOK(w, http.StatusOK, rec.DNSRecord, nil)
}

func (s *Sim) cfDelete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.cfFind(w, r)
	if rec == nil {
		return
	}
	delete(s.st.records, rec.ID)
	cfOK(w, http.StatusOK, map[string]string{"id": rec.ID}, nil)
}
