package sim

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

type hServer struct {
	id         int64
	name       string
	serverType string
	location   string
	image      string
	labels     map[string]string
	userData   string
	created    time.Time
	healthy    bool
	createdBy  int64 // create action
}

type hAction struct {
	id        int64
	command   string
	started   time.Time
	resources []schema.ActionResourceReference
}

var hetznerServerTypes = []schema.ServerType{
	{ID: 1, Name: "cx22", Description: "CX22", Category: "shared", Cores: 2, Memory: 4, Disk: 40, StorageType: "local", CPUType: "shared", Architecture: "x86"},
	{ID: 45, Name: "cax11", Description: "CAX11", Category: "shared", Cores: 2, Memory: 4, Disk: 40, StorageType: "local", CPUType: "shared", Architecture: "arm"},
	{ID: 22, Name: "cpx11", Description: "CPX11", Category: "shared", Cores: 2, Memory: 2, Disk: 40, StorageType: "local", CPUType: "shared", Architecture: "x86"},
}

var hetznerLocations = []schema.Location{
	{ID: 1, Name: "fsn1", Description: "Falkenstein DC Park 1", Country: "DE", City: "Falkenstein", NetworkZone: "eu-central"},
	{ID: 2, Name: "nbg1", Description: "Nuremberg DC Park 1", Country: "DE", City: "Nuremberg", NetworkZone: "eu-central"},
	{ID: 3, Name: "hel1", Description: "Helsinki DC Park 1", Country: "FI", City: "Helsinki", NetworkZone: "eu-central"},
	{ID: 4, Name: "ash", Description: "Ashburn, VA", Country: "US", City: "Ashburn, VA", NetworkZone: "us-east"},
}

var hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func hetznerError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, schema.ErrorResponse{Error: schema.Error{Code: code, Message: msg}})
}

func (s *Sim) hetznerAuth(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") || len(r.Header.Get("Authorization")) <= len("Bearer ") {
		hetznerError(w, http.StatusUnauthorized, "unauthorized", "unable to authenticate")
		return false
	}
	return true
}

func (s *Sim) routesHetzner() {
	h := func(pattern string, fn http.HandlerFunc) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if !s.hetznerAuth(w, r) {
				return
			}
			fn(w, r)
		})
	}
	h("GET /hetzner/v1/server_types", s.hListServerTypes)
	h("GET /hetzner/v1/server_types/{id}", s.hGetServerType)
	h("GET /hetzner/v1/locations", s.hListLocations)
	h("GET /hetzner/v1/servers", s.hListServers)
	h("POST /hetzner/v1/servers", s.hCreateServer)
	h("GET /hetzner/v1/servers/{id}", s.hGetServer)
	h("DELETE /hetzner/v1/servers/{id}", s.hDeleteServer)
	h("POST /hetzner/v1/servers/{id}/actions/poweron", s.hPowerOn)
	h("GET /hetzner/v1/actions", s.hListActions)
	h("GET /hetzner/v1/actions/{id}", s.hGetAction)
	s.mux.HandleFunc("/hetzner/", func(w http.ResponseWriter, r *http.Request) {
		hetznerError(w, http.StatusNotFound, "not_found", "route not found")
	})
}

// paginate applies Hetzner's page/per_page (default 25, max 50) and returns
// the page and its meta.
func paginate[T any](items []T, r *http.Request) ([]T, schema.Meta) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if page < 1 {
		page = 1
	}
	if per < 1 {
		per = 25
	}
	if per > 50 {
		per = 50
	}
	last := int(math.Max(1, math.Ceil(float64(len(items))/float64(per))))
	p := schema.MetaPagination{Page: page, PerPage: per, LastPage: last, TotalEntries: len(items)}
	if page > 1 {
		p.PreviousPage = page - 1
	}
	if page < last {
		p.NextPage = page + 1
	}
	from := (page - 1) * per
	if from > len(items) {
		from = len(items)
	}
	to := min(from+per, len(items))
	return items[from:to], schema.Meta{Pagination: &p}
}

func (s *Sim) hListServerTypes(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	var out []schema.ServerType
	for _, t := range hetznerServerTypes {
		if name == "" || t.Name == name {
			out = append(out, t)
		}
	}
	items, meta := paginate(out, r)
	writeJSON(w, http.StatusOK, map[string]any{"server_types": nonNil(items), "meta": meta})
}

func (s *Sim) hGetServerType(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	for _, t := range hetznerServerTypes {
		if t.ID == id {
			writeJSON(w, http.StatusOK, schema.ServerTypeGetResponse{ServerType: t})
			return
		}
	}
	hetznerError(w, http.StatusNotFound, "not_found", "server_type not found")
}

func (s *Sim) hListLocations(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	var out []schema.Location
	for _, l := range hetznerLocations {
		if name == "" || l.Name == name {
			out = append(out, l)
		}
	}
	items, meta := paginate(out, r)
	writeJSON(w, http.StatusOK, map[string]any{"locations": nonNil(items), "meta": meta})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Sim) serverStatus(sv *hServer, now time.Time) string {
	if now.Sub(sv.created) < s.cfg.ActionDelay {
		return "initializing"
	}
	if !sv.healthy {
		return "off"
	}
	return "running"
}

func (s *Sim) actionStatus(a *hAction, now time.Time) (string, int) {
	el := now.Sub(a.started)
	if s.cfg.ActionDelay <= 0 || el >= s.cfg.ActionDelay {
		return "success", 100
	}
	return "running", int(100 * el / s.cfg.ActionDelay)
}

func (s *Sim) actionSchema(a *hAction, now time.Time) schema.Action {
	st, p := s.actionStatus(a, now)
	out := schema.Action{ID: a.id, Status: st, Command: a.command, Progress: p, Started: a.started, Resources: a.resources}
	if st == "success" {
		f := a.started.Add(s.cfg.ActionDelay)
		out.Finished = &f
	}
	return out
}

func (s *Sim) serverSchema(sv *hServer, now time.Time) schema.Server {
	var st schema.ServerType
	for _, t := range hetznerServerTypes {
		if t.Name == sv.serverType {
			st = t
		}
	}
	var loc schema.Location
	for _, l := range hetznerLocations {
		if l.Name == sv.location {
			loc = l
		}
	}
	img := sv.image
	return schema.Server{
		ID: sv.id, Name: sv.name, Status: s.serverStatus(sv, now), Created: sv.created,
		PublicNet: schema.ServerPublicNet{
			IPv4: schema.ServerPublicNetIPv4{ID: sv.id, IP: fmt.Sprintf("203.0.113.%d", sv.id%250+1), DNSPtr: fmt.Sprintf("static.%d.sim", sv.id)},
			IPv6: schema.ServerPublicNetIPv6{ID: sv.id, IP: fmt.Sprintf("2001:db8:%x::/64", sv.id)},
		},
		PrivateNet: []schema.ServerPrivateNet{}, ServerType: st, Location: loc,
		Image:  &schema.Image{ID: 114690387, Status: "available", Type: "system", Name: &img, OSFlavor: "debian"},
		Labels: sv.labels, Volumes: []int64{}, LoadBalancers: []int64{}, PrimaryDiskSize: st.Disk,
	}
}

// labelSelectorMatch implements the subset of Hetzner's label selectors
// we use: "k=v", "k==v", "k!=v", "k", "!k", comma-separated (AND).
func labelSelectorMatch(sel string, labels map[string]string) bool {
	if strings.TrimSpace(sel) == "" {
		return true
	}
	for _, term := range strings.Split(sel, ",") {
		term = strings.TrimSpace(term)
		switch {
		case strings.Contains(term, "!="):
			k, v, _ := strings.Cut(term, "!=")
			if labels[strings.TrimSpace(k)] == strings.TrimSpace(v) {
				return false
			}
		case strings.Contains(term, "=="):
			k, v, _ := strings.Cut(term, "==")
			if got, ok := labels[strings.TrimSpace(k)]; !ok || got != strings.TrimSpace(v) {
				return false
			}
		case strings.Contains(term, "="):
			k, v, _ := strings.Cut(term, "=")
			if got, ok := labels[strings.TrimSpace(k)]; !ok || got != strings.TrimSpace(v) {
				return false
			}
		case strings.HasPrefix(term, "!"):
			if _, ok := labels[strings.TrimPrefix(term, "!")]; ok {
				return false
			}
		default:
			if _, ok := labels[term]; !ok {
				return false
			}
		}
	}
	return true
}

func (s *Sim) hListServers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	now := s.now()
	var out []schema.Server
	ids := make([]int64, 0, len(s.st.servers))
	for id := range s.st.servers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		sv := s.st.servers[id]
		if n := q.Get("name"); n != "" && sv.name != n {
			continue
		}
		if !labelSelectorMatch(q.Get("label_selector"), sv.labels) {
			continue
		}
		out = append(out, s.serverSchema(sv, now))
	}
	s.mu.Unlock()
	items, meta := paginate(out, r)
	writeJSON(w, http.StatusOK, map[string]any{"servers": nonNil(items), "meta": meta})
}

func (s *Sim) hGetServer(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	sv, ok := s.st.servers[id]
	var out schema.Server
	if ok {
		out = s.serverSchema(sv, s.now())
	}
	s.mu.Unlock()
	if !ok {
		hetznerError(w, http.StatusNotFound, "not_found", fmt.Sprintf("server with ID '%d' not found", id))
		return
	}
	writeJSON(w, http.StatusOK, schema.ServerGetResponse{Server: out})
}

func (s *Sim) hCreateServer(w http.ResponseWriter, r *http.Request) {
	var req schema.ServerCreateRequest
	if err := readJSON(r, &req); err != nil {
		hetznerError(w, http.StatusBadRequest, "json_error", "invalid JSON: "+err.Error())
		return
	}
	if !hostnameRE.MatchString(req.Name) {
		hetznerError(w, http.StatusBadRequest, "invalid_input", "invalid input in field 'name'")
		return
	}
	stName := req.ServerType.Name
	if stName == "" && req.ServerType.ID != 0 {
		for _, t := range hetznerServerTypes {
			if t.ID == req.ServerType.ID {
				stName = t.Name
			}
		}
	}
	known := false
	for _, t := range hetznerServerTypes {
		known = known || t.Name == stName
	}
	if !known {
		hetznerError(w, http.StatusBadRequest, "invalid_input", "invalid input in field 'server_type'")
		return
	}
	loc := req.Location
	if loc == "" {
		loc = "fsn1"
	}
	known = false
	for _, l := range hetznerLocations {
		known = known || l.Name == loc
	}
	if !known {
		hetznerError(w, http.StatusBadRequest, "invalid_input", "invalid input in field 'location'")
		return
	}
	if req.Image.Name == "" && req.Image.ID == 0 {
		hetznerError(w, http.StatusBadRequest, "invalid_input", "invalid input in field 'image'")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.unavailable[ServerTypeLocation{ServerType: stName, Location: loc}] {
		hetznerError(w, http.StatusServiceUnavailable, "resource_unavailable",
			fmt.Sprintf("server type %s is currently not available in location %s", stName, loc))
		return
	}
	for _, sv := range s.st.servers {
		if sv.name == req.Name {
			hetznerError(w, http.StatusConflict, "uniqueness_error", "server name is already used")
			return
		}
	}
	now := s.now()
	labels := map[string]string{}
	if req.Labels != nil {
		for k, v := range *req.Labels {
			labels[k] = v
		}
	}
	imgName := req.Image.Name
	if imgName == "" {
		imgName = "debian-12"
	}
	sv := &hServer{id: s.st.id(), name: req.Name, serverType: stName, location: loc, image: imgName, labels: labels,
		userData: req.UserData, created: now, healthy: true}
	ref := []schema.ActionResourceReference{{ID: sv.id, Type: "server"}}
	create := &hAction{id: s.st.id(), command: "create_server", started: now, resources: ref}
	start := &hAction{id: s.st.id(), command: "start_server", started: now, resources: ref}
	sv.createdBy = create.id
	s.st.servers[sv.id] = sv
	s.st.actions[create.id] = create
	s.st.actions[start.id] = start
	pw := "sim-root-password"
	writeJSON(w, http.StatusCreated, schema.ServerCreateResponse{
		Server: s.serverSchema(sv, now), Action: s.actionSchema(create, now),
		RootPassword: &pw, NextActions: []schema.Action{s.actionSchema(start, now)},
	})
}

func (s *Sim) hDeleteServer(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.servers[id]; !ok {
		hetznerError(w, http.StatusNotFound, "not_found", fmt.Sprintf("server with ID '%d' not found", id))
		return
	}
	delete(s.st.servers, id)
	a := &hAction{id: s.st.id(), command: "delete_server", started: s.now(), resources: []schema.ActionResourceReference{{ID: id, Type: "server"}}}
	s.st.actions[a.id] = a
	writeJSON(w, http.StatusOK, schema.ServerDeleteResponse{Action: s.actionSchema(a, s.now())})
}

func (s *Sim) hListActions(w http.ResponseWriter, r *http.Request) {
	want := map[int64]bool{}
	for _, v := range r.URL.Query()["id"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			hetznerError(w, http.StatusBadRequest, "invalid_input", "invalid input in field 'id'")
			return
		}
		want[id] = true
	}
	s.mu.Lock()
	now := s.now()
	var out []schema.Action
	for id, a := range s.st.actions {
		if len(want) > 0 && !want[id] {
			continue
		}
		out = append(out, s.actionSchema(a, now))
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	items, meta := paginate(out, r)
	writeJSON(w, http.StatusOK, map[string]any{"actions": nonNil(items), "meta": meta})
}

func (s *Sim) hGetAction(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	a, ok := s.st.actions[id]
	var out schema.Action
	if ok {
		out = s.actionSchema(a, s.now())
	}
	s.mu.Unlock()
	if !ok {
		hetznerError(w, http.StatusNotFound, "not_found", "action not found")
		return
	}
	writeJSON(w, http.StatusOK, schema.ActionGetResponse{Action: out})
}

// SetServerHealth flips a Hetzner server between running (healthy) and off.
// id is the server ID or name.
func (s *Sim) SetServerHealth(id string, healthy bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sv := range s.st.servers {
		if strconv.FormatInt(sv.id, 10) == id || sv.name == id {
			sv.healthy = healthy
			return nil
		}
	}
	return fmt.Errorf("sim: no server %q", id)
}

func (s *Sim) hPowerOn(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	sv, ok := s.st.servers[id]
	if !ok {
		hetznerError(w, http.StatusNotFound, "not_found", fmt.Sprintf("server with ID '%d' not found", id))
		return
	}
	sv.healthy = true
	a := &hAction{id: s.st.id(), command: "start_server", started: s.now(), resources: []schema.ActionResourceReference{{ID: id, Type: "server"}}}
	s.st.actions[a.id] = a
	writeJSON(w, http.StatusCreated, schema.ServerActionPoweronResponse{Action: s.actionSchema(a, s.now())})
}
