package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	fly "github.com/superfly/fly-go"
)

type flyApp struct {
	id      string
	name    string
	org     string
	created time.Time
	secrets map[string]string // values are kept only to compute digests
	version uint64
}

type flyMachine struct {
	id, app, name, region string
	instanceID            string
	config                *fly.MachineConfig
	created               time.Time
	healthy               bool
	stopped               bool
}

type flyVolume struct {
	fly.Volume
	app string
}

type flyAddon struct {
	id, name, orgID, primaryRegion, password string
	readRegions                              []string
	created                                  time.Time
}

func flyError(w http.ResponseWriter, status int, msg, code string) {
	body := map[string]string{"error": msg}
	if code != "" {
		body["status"] = code
	}
	writeJSON(w, status, body)
}

func (s *Sim) routesFly() {
	h := func(pattern string, fn http.HandlerFunc) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "" || strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer")) == "" {
				flyError(w, http.StatusUnauthorized, "unauthorized", "")
				return
			}
			fn(w, r)
		})
	}
	h("POST /fly/v1/apps", s.fCreateApp)
	h("GET /fly/v1/apps/{app}", s.fGetApp)
	h("DELETE /fly/v1/apps/{app}", s.fDeleteApp)
	h("GET /fly/v1/apps/{app}/machines", s.fListMachines)
	h("POST /fly/v1/apps/{app}/machines", s.fLaunch)
	h("GET /fly/v1/apps/{app}/machines/{id}", s.fGetMachine)
	h("DELETE /fly/v1/apps/{app}/machines/{id}", s.fDestroyMachine)
	h("GET /fly/v1/apps/{app}/machines/{id}/wait", s.fWait)
	h("POST /fly/v1/apps/{app}/machines/{id}/exec", s.fExec)
	h("GET /fly/v1/apps/{app}/volumes", s.fListVolumes)
	h("POST /fly/v1/apps/{app}/volumes", s.fCreateVolume)
	h("GET /fly/v1/apps/{app}/volumes/{id}", s.fGetVolume)
	h("DELETE /fly/v1/apps/{app}/volumes/{id}", s.fDeleteVolume)
	h("GET /fly/v1/apps/{app}/secrets", s.fListSecrets)
	h("POST /fly/v1/apps/{app}/secrets", s.fUpdateSecrets)
	h("POST /fly/graphql", s.fGraphQL)
	s.mux.HandleFunc("/fly/", func(w http.ResponseWriter, r *http.Request) {
		flyError(w, http.StatusNotFound, "not found", "")
	})
}

var flyNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// appFor returns the app of the request or writes 404.
func (s *Sim) appFor(w http.ResponseWriter, r *http.Request) *flyApp {
	a, ok := s.st.apps[r.PathValue("app")]
	if !ok {
		flyError(w, http.StatusNotFound, "app not found", "")
		return nil
	}
	return a
}

func (s *Sim) createApp(name, org string) (*flyApp, error) {
	if !flyNameRE.MatchString(name) {
		return nil, fmt.Errorf("invalid app name %q", name)
	}
	if _, ok := s.st.apps[name]; ok {
		return nil, errAppTaken
	}
	a := &flyApp{id: name, name: name, org: org, created: s.now(), secrets: map[string]string{}}
	s.st.apps[name] = a
	return a, nil
}

var errAppTaken = errors.New("name has already been taken")

func (s *Sim) fCreateApp(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AppName string `json:"app_name"`
		OrgSlug string `json:"org_slug"`
	}
	if err := readJSON(r, &req); err != nil {
		flyError(w, http.StatusBadRequest, "invalid json", "")
		return
	}
	if req.OrgSlug == "" {
		flyError(w, http.StatusBadRequest, "org_slug is required", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.createApp(req.AppName, req.OrgSlug); err != nil {
		status := http.StatusUnprocessableEntity
		if err == errAppTaken {
			status = http.StatusConflict
		}
		flyError(w, status, err.Error(), "")
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Sim) appJSON(a *flyApp) map[string]any {
	return map[string]any{"id": a.id, "name": a.name, "status": "deployed", "organization": map[string]string{"slug": a.org, "name": a.org}}
}

func (s *Sim) fGetApp(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.appFor(w, r); a != nil {
		writeJSON(w, http.StatusOK, s.appJSON(a))
	}
}

func (s *Sim) deleteApp(name string) bool {
	if _, ok := s.st.apps[name]; !ok {
		return false
	}
	delete(s.st.apps, name)
	for id, m := range s.st.machines {
		if m.app == name {
			delete(s.st.machines, id)
		}
	}
	for id, v := range s.st.volumes {
		if v.app == name {
			delete(s.st.volumes, id)
		}
	}
	return true
}

func (s *Sim) fDeleteApp(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.deleteApp(r.PathValue("app")) {
		flyError(w, http.StatusNotFound, "app not found", "")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Sim) hexID() string { return fmt.Sprintf("%014x", 0x3d8d0000000000+s.st.id()) }

func (s *Sim) machineState(m *flyMachine, now time.Time) string {
	switch {
	case m.stopped:
		return "stopped"
	case now.Sub(m.created) < s.cfg.MachineStartDelay:
		return "created"
	default:
		return "started"
	}
}

func (s *Sim) machineJSON(m *flyMachine, now time.Time) fly.Machine {
	st := s.machineState(m, now)
	out := fly.Machine{ID: m.id, Name: m.name, State: st, Region: m.region, InstanceID: m.instanceID, Version: m.instanceID,
		PrivateIP: "fdaa:0:1:a7b:" + m.id[len(m.id)-4:] + "::2", CreatedAt: m.created.UTC().Format(time.RFC3339),
		UpdatedAt: m.created.UTC().Format(time.RFC3339), Config: m.config, HostStatus: "ok"}
	if m.config != nil {
		ref := m.config.Image
		repo, tag, _ := strings.Cut(ref, ":")
		out.ImageRef = fly.MachineImageRef{Registry: "registry-1.docker.io", Repository: repo, Tag: tag}
	}
	if st == "started" {
		status := "passing"
		if !m.healthy {
			status = "critical"
		}
		t := now.UTC()
		out.Checks = []*fly.MachineCheckStatus{{Name: "servicecheck-00-tcp-4000", Status: fly.ConsulCheckStatus(status), Output: "sim", UpdatedAt: &t}}
	}
	return out
}

func (s *Sim) fListMachines(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appFor(w, r)
	if a == nil {
		return
	}
	now := s.now()
	out := []fly.Machine{}
	for _, m := range s.st.machines {
		if m.app == a.name {
			out = append(out, s.machineJSON(m, now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) fLaunch(w http.ResponseWriter, r *http.Request) {
	var in fly.LaunchMachineInput
	if err := readJSON(r, &in); err != nil {
		flyError(w, http.StatusBadRequest, "invalid json", "")
		return
	}
	if in.Config == nil || in.Config.Image == "" {
		flyError(w, http.StatusBadRequest, "invalid config.image: must be set", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appFor(w, r)
	if a == nil {
		return
	}
	region := in.Region
	if region == "" {
		region = "iad"
	}
	if s.st.noCapacity[region] {
		flyError(w, http.StatusPreconditionFailed, "insufficient resources available to fulfill request: could not reserve resource for machine: insufficient memory available to fulfill request", "insufficient_capacity")
		return
	}
	for _, mnt := range in.Config.Mounts {
		v, ok := s.st.volumes[mnt.Volume]
		if !ok || v.app != a.name {
			flyError(w, http.StatusBadRequest, "volume "+mnt.Volume+" not found", "")
			return
		}
		if v.AttachedMachine != nil {
			flyError(w, http.StatusBadRequest, "volume "+mnt.Volume+" is already attached", "")
			return
		}
		if v.Region != region {
			flyError(w, http.StatusBadRequest, "volume "+mnt.Volume+" is in region "+v.Region, "")
			return
		}
	}
	id := s.hexID()
	m := &flyMachine{id: id, app: a.name, name: in.Name, region: region, config: in.Config, created: s.now(), healthy: true,
		instanceID: fmt.Sprintf("01J%023X", s.st.id())}
	if m.name == "" {
		m.name = "machine-" + id
	}
	for _, mnt := range in.Config.Mounts {
		mid := id
		s.st.volumes[mnt.Volume].AttachedMachine = &mid
		s.st.volumes[mnt.Volume].State = "attached"
	}
	s.st.machines[id] = m
	writeJSON(w, http.StatusOK, s.machineJSON(m, s.now()))
}

func (s *Sim) machineFor(w http.ResponseWriter, r *http.Request) *flyMachine {
	if s.appFor(w, r) == nil {
		return nil
	}
	m, ok := s.st.machines[r.PathValue("id")]
	if !ok || m.app != r.PathValue("app") {
		flyError(w, http.StatusNotFound, "machine not found", "")
		return nil
	}
	return m
}

func (s *Sim) fGetMachine(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.machineFor(w, r); m != nil {
		writeJSON(w, http.StatusOK, s.machineJSON(m, s.now()))
	}
}

func (s *Sim) fDestroyMachine(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.machineFor(w, r)
	if m == nil {
		return
	}
	if s.machineState(m, s.now()) == "started" && r.URL.Query().Get("kill") != "true" && r.URL.Query().Get("force") != "true" {
		flyError(w, http.StatusPreconditionFailed, "failed_precondition: unable to destroy machine, not currently stopped, suspended or failed", "")
		return
	}
	for _, v := range s.st.volumes {
		if v.AttachedMachine != nil && *v.AttachedMachine == m.id {
			v.AttachedMachine = nil
			v.State = "created"
		}
	}
	delete(s.st.machines, m.id)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Sim) fWait(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	want := q.Get("state")
	if want == "" {
		want = "started"
	}
	timeout := 60
	if t, err := strconv.Atoi(q.Get("timeout")); err == nil && t > 0 {
		timeout = min(t, 60)
	}
	deadline := time.Now().Add(time.Duration(timeout) * time.Second)
	for {
		s.mu.Lock()
		m := s.machineFor(w, r)
		if m == nil {
			s.mu.Unlock()
			return
		}
		if iid := q.Get("instance_id"); iid != "" && iid != m.instanceID {
			s.mu.Unlock()
			flyError(w, http.StatusBadRequest, "instance_id does not match machine version", "")
			return
		}
		st := s.machineState(m, s.now())
		s.mu.Unlock()
		if st == want {
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "state": st})
			return
		}
		if time.Now().After(deadline) {
			flyError(w, http.StatusRequestTimeout, "deadline_exceeded: machine did not reach state "+want, "")
			return
		}
		if !sleepCtx(r.Context(), 20*time.Millisecond) {
			return
		}
	}
}

var migrationIDRE = regexp.MustCompile(`webhost-migration-([A-Za-z0-9_.-]+)`)

// fExec runs a command on a machine. Only data migrations are understood:
// a script that names its ID as "webhost-migration-<id>" and reads the
// source and target database URLs from stdin, one per line. The sim records
// the plan (with passwords removed) and remembers the ID, so running the
// same migration twice is a no-op, like the marker file the real script
// writes.
func (s *Sim) fExec(w http.ResponseWriter, r *http.Request) {
	var in fly.MachineExecRequest
	if err := readJSON(r, &in); err != nil {
		flyError(w, http.StatusBadRequest, "invalid json", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.machineFor(w, r)
	if m == nil {
		return
	}
	if s.machineState(m, s.now()) != "started" {
		flyError(w, http.StatusPreconditionFailed, "machine is not started", "")
		return
	}
	match := migrationIDRE.FindStringSubmatch(in.Cmd)
	if match == nil {
		writeJSON(w, http.StatusOK, fly.MachineExecResponse{ExitCode: 127, StdErr: "sim: only data migrations can be executed"})
		return
	}
	id := match[1]
	key := m.app + "/" + id
	if s.st.done[key] {
		writeJSON(w, http.StatusOK, fly.MachineExecResponse{ExitCode: 0, StdOut: "already migrated\n"})
		return
	}
	lines := strings.Split(strings.TrimSpace(in.Stdin), "\n")
	if len(lines) < 2 {
		writeJSON(w, http.StatusOK, fly.MachineExecResponse{ExitCode: 2, StdErr: "missing source and target URLs on stdin"})
		return
	}
	src, err1 := url.Parse(strings.TrimSpace(lines[0]))
	dst, err2 := url.Parse(strings.TrimSpace(lines[1]))
	if err1 != nil || err2 != nil || src.Host == "" || dst.Host == "" {
		writeJSON(w, http.StatusOK, fly.MachineExecResponse{ExitCode: 2, StdErr: "invalid database URL"})
		return
	}
	var plan []string
	for _, step := range strings.Split(in.Cmd, "\n") {
		step = strings.TrimSpace(step)
		if strings.HasPrefix(step, "pg_dump") || strings.HasPrefix(step, "pg_restore") || strings.Contains(step, "| pg_restore") {
			plan = append(plan, step)
		}
	}
	s.st.done[key] = true
	s.st.migration = append(s.st.migration, Migration{ID: id, App: m.app, MachineID: m.id, Source: src.Redacted(), Target: dst.Redacted(), Plan: plan, At: s.now()})
	writeJSON(w, http.StatusOK, fly.MachineExecResponse{ExitCode: 0, StdOut: "migrated\n"})
}

// Migrations returns the recorded data migrations.
func (s *Sim) Migrations() []Migration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Migration{}, s.st.migration...)
}

// SetMachineHealth flips the health checks of a Fly machine (ID or name).
func (s *Sim) SetMachineHealth(id string, healthy bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.st.machines {
		if m.id == id || m.name == id {
			m.healthy = healthy
			return nil
		}
	}
	return fmt.Errorf("sim: no machine %q", id)
}

func (s *Sim) fListVolumes(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appFor(w, r)
	if a == nil {
		return
	}
	out := []fly.Volume{}
	for _, v := range s.st.volumes {
		if v.app == a.name {
			out = append(out, v.Volume)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) fCreateVolume(w http.ResponseWriter, r *http.Request) {
	var in fly.CreateVolumeRequest
	if err := readJSON(r, &in); err != nil {
		flyError(w, http.StatusBadRequest, "invalid json", "")
		return
	}
	if in.Name == "" || in.Region == "" {
		flyError(w, http.StatusBadRequest, "name and region are required", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appFor(w, r)
	if a == nil {
		return
	}
	if s.st.noCapacity[in.Region] {
		flyError(w, http.StatusPreconditionFailed, "insufficient resources available to fulfill request: no volume capacity in region", "insufficient_capacity")
		return
	}
	size := 1
	if in.SizeGb != nil && *in.SizeGb > 0 {
		size = *in.SizeGb
	}
	v := &flyVolume{app: a.name, Volume: fly.Volume{ID: "vol_" + s.hexID(), Name: in.Name, State: "created", SizeGb: size,
		Region: in.Region, Zone: "sim1", Encrypted: true, CreatedAt: s.now().UTC(), SnapshotRetention: 5, HostStatus: "ok"}}
	s.st.volumes[v.ID] = v
	writeJSON(w, http.StatusOK, v.Volume)
}

func (s *Sim) volumeFor(w http.ResponseWriter, r *http.Request) *flyVolume {
	if s.appFor(w, r) == nil {
		return nil
	}
	v, ok := s.st.volumes[r.PathValue("id")]
	if !ok || v.app != r.PathValue("app") {
		flyError(w, http.StatusNotFound, "volume not found", "")
		return nil
	}
	return v
}

func (s *Sim) fGetVolume(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.volumeFor(w, r); v != nil {
		writeJSON(w, http.StatusOK, v.Volume)
	}
}

func (s *Sim) fDeleteVolume(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.volumeFor(w, r)
	if v == nil {
		return
	}
	if v.AttachedMachine != nil {
		flyError(w, http.StatusPreconditionFailed, "volume is attached to machine "+*v.AttachedMachine, "")
		return
	}
	delete(s.st.volumes, v.ID)
	out := v.Volume
	out.State = "pending_destroy"
	writeJSON(w, http.StatusOK, out)
}

func secretDigest(v string) string {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(v); i++ {
		h = (h ^ uint64(v[i])) * 1099511628211
	}
	return fmt.Sprintf("%016x", h)
}

func (s *Sim) fListSecrets(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appFor(w, r)
	if a == nil {
		return
	}
	writeJSON(w, http.StatusOK, fly.ListAppSecretsResp{Secrets: secretList(a)})
}

func secretList(a *flyApp) []fly.AppSecret {
	out := []fly.AppSecret{}
	for k, v := range a.secrets {
		out = append(out, fly.AppSecret{Name: k, Digest: secretDigest(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Sim) fUpdateSecrets(w http.ResponseWriter, r *http.Request) {
	var in fly.UpdateAppSecretsRequest
	if err := readJSON(r, &in); err != nil {
		flyError(w, http.StatusBadRequest, "invalid json", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appFor(w, r)
	if a == nil {
		return
	}
	changed := false
	for k, v := range in.Values {
		if v == nil {
			if _, ok := a.secrets[k]; ok {
				delete(a.secrets, k)
				changed = true
			}
			continue
		}
		if old, ok := a.secrets[k]; !ok || old != *v {
			a.secrets[k] = *v
			changed = true
		}
	}
	if changed {
		a.version++
	}
	writeJSON(w, http.StatusOK, fly.UpdateAppSecretsResp{Secrets: secretList(a), Version: a.version})
}

// GraphQL ---------------------------------------------------------------

type gqlError struct {
	Message    string         `json:"message"`
	Path       []string       `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func gqlReply(w http.ResponseWriter, data any, errs ...gqlError) {
	body := map[string]any{"data": data}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	writeJSON(w, http.StatusOK, body)
}

func notFound(field, msg string) gqlError {
	return gqlError{Message: msg, Path: []string{field}, Extensions: map[string]any{"code": "NOT_FOUND"}}
}

// fGraphQL answers the GraphQL operations the adapters send: app lookup
// (appcompact), deleteApp, createAddOn, addOn and deleteAddOn. Anything
// else is a GraphQL error, as an unknown field would be.
func (s *Sim) fGraphQL(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query     string          `json:"query"`
		Variables json.RawMessage `json:"variables"`
	}
	if err := readJSON(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []gqlError{{Message: "invalid JSON"}}})
		return
	}
	var vars map[string]any
	_ = json.Unmarshal(req.Variables, &vars)
	str := func(k string) string { v, _ := vars[k].(string); return v }
	q := req.Query
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case strings.Contains(q, "deleteApp("):
		name := str("appId")
		a, ok := s.st.apps[name]
		if !ok {
			gqlReply(w, map[string]any{"deleteApp": nil}, notFound("deleteApp", fmt.Sprintf("Could not find App %q", name)))
			return
		}
		org := a.org
		s.deleteApp(name)
		gqlReply(w, map[string]any{"deleteApp": map[string]any{"organization": map[string]string{"id": org}}})
	case strings.Contains(q, "enablePostgresConsul("):
		in, _ := vars["input"].(map[string]any)
		name, _ := in["appId"].(string)
		if _, ok := s.st.apps[name]; !ok {
			gqlReply(w, map[string]any{"enablePostgresConsul": nil}, notFound("enablePostgresConsul", fmt.Sprintf("Could not find App %q", name)))
			return
		}
		gqlReply(w, map[string]any{"enablePostgresConsul": map[string]any{"consulUrl": fmt.Sprintf("https://:simconsul%d@consul-sim.fly-shared.net/%s/", s.st.id(), name)}})
	case strings.Contains(q, "appcompact:app("):
		name := str("appName")
		a, ok := s.st.apps[name]
		if !ok {
			gqlReply(w, map[string]any{"appcompact": nil}, notFound("appcompact", fmt.Sprintf("Could not find App %q", name)))
			return
		}
		gqlReply(w, map[string]any{"appcompact": map[string]any{
			"id": a.id, "name": a.name, "hostname": a.name + ".fly.dev", "deployed": true, "network": "default",
			"status": "deployed", "appUrl": "https://" + a.name + ".fly.dev", "platformVersion": "machines",
			"organization": map[string]any{"id": a.org, "internalNumericId": "1", "slug": a.org, "paidPlan": true},
		}})
	case strings.Contains(q, "createAddOn("):
		in, _ := vars["input"].(map[string]any)
		get := func(k string) string { v, _ := in[k].(string); return v }
		if get("type") != "upstash_redis" {
			gqlReply(w, map[string]any{"createAddOn": nil}, gqlError{Message: "unsupported add-on type " + get("type"), Path: []string{"createAddOn"}})
			return
		}
		name := get("name")
		if !flyNameRE.MatchString(name) || get("organizationId") == "" || get("primaryRegion") == "" {
			gqlReply(w, map[string]any{"createAddOn": nil}, gqlError{Message: "Validation failed: name, organizationId and primaryRegion are required", Path: []string{"createAddOn"}})
			return
		}
		if _, ok := s.st.addons[name]; ok {
			gqlReply(w, map[string]any{"createAddOn": nil}, gqlError{Message: "Name has already been taken", Path: []string{"createAddOn"}})
			return
		}
		var reads []string
		if rr, ok := in["readRegions"].([]any); ok {
			for _, x := range rr {
				if s, ok := x.(string); ok {
					reads = append(reads, s)
				}
			}
		}
		a := &flyAddon{id: fmt.Sprintf("addon_%d", s.st.id()), name: name, orgID: get("organizationId"), primaryRegion: get("primaryRegion"),
			readRegions: reads, password: fmt.Sprintf("simpw%08x", s.st.id()), created: s.now()}
		s.st.addons[name] = a
		gqlReply(w, map[string]any{"createAddOn": map[string]any{"addOn": addonJSON(a)}})
	case strings.Contains(q, "deleteAddOn("):
		in, _ := vars["input"].(map[string]any)
		name, _ := in["name"].(string)
		if _, ok := s.st.addons[name]; !ok {
			gqlReply(w, map[string]any{"deleteAddOn": nil}, notFound("deleteAddOn", fmt.Sprintf("Could not find AddOn %q", name)))
			return
		}
		delete(s.st.addons, name)
		gqlReply(w, map[string]any{"deleteAddOn": map[string]any{"deletedAddOnName": name}})
	case strings.Contains(q, "addOn("):
		name := str("name")
		a, ok := s.st.addons[name]
		if !ok {
			gqlReply(w, map[string]any{"addOn": nil}, notFound("addOn", fmt.Sprintf("Could not find AddOn %q", name)))
			return
		}
		gqlReply(w, map[string]any{"addOn": addonJSON(a)})
	default:
		gqlReply(w, nil, gqlError{Message: "sim: unsupported GraphQL operation"})
	}
}

func addonJSON(a *flyAddon) map[string]any {
	return map[string]any{"id": a.id, "name": a.name, "status": "ready", "primaryRegion": a.primaryRegion,
		"readRegions": nonNil(a.readRegions), "hostname": "fly-" + a.name + ".upstash.io",
		"publicUrl": fmt.Sprintf("redis://default:%s@fly-%s.upstash.io:6379", a.password, a.name)}
}
