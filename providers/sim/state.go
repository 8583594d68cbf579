package sim

import (
	"sort"
	"time"
)

type state struct {
	nextID int64

	servers map[int64]*hServer
	actions map[int64]*hAction

	apps      map[string]*flyApp
	machines  map[string]*flyMachine // by machine ID
	volumes   map[string]*flyVolume  // by volume ID
	addons    map[string]*flyAddon   // by name
	done      map[string]bool        // migration IDs completed, per app: app+"/"+id
	migration []Migration

	records map[string]*cfRecord // by record ID

	Requests    map[string]int
	unavailable map[ServerTypeLocation]bool
	noCapacity  map[string]bool
}

func newState() *state {
	return &state{
		servers: map[int64]*hServer{}, actions: map[int64]*hAction{},
		apps: map[string]*flyApp{}, machines: map[string]*flyMachine{}, volumes: map[string]*flyVolume{},
		addons: map[string]*flyAddon{}, done: map[string]bool{},
		records:  map[string]*cfRecord{},
		Requests: map[string]int{}, unavailable: map[ServerTypeLocation]bool{}, noCapacity: map[string]bool{},
	}
}

func (st *state) id() int64 {
	st.nextID++
	return st.nextID
}

// State is a snapshot of everything the simulators hold. Secret values
// (app secrets, Redis passwords, migration URLs' passwords) are never in it.
type State struct {
	Hetzner struct {
		Servers []ServerState `json:"servers"`
		Actions []ActionState `json:"actions"`
	} `json:"hetzner"`
	Fly struct {
		Apps       []AppState     `json:"apps"`
		Machines   []MachineState `json:"machines"`
		Volumes    []VolumeState  `json:"volumes"`
		Redis      []RedisState   `json:"redis"`
		Migrations []Migration    `json:"migrations"`
	} `json:"fly"`
	Cloudflare struct {
		Records []RecordState `json:"records"`
	} `json:"cloudflare"`
	// Requests counts requests by "provider METHOD path".
	Requests map[string]int `json:"requests"`
}

// ServerState is a Hetzner server in the snapshot.
type ServerState struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Status     string            `json:"status"`
	ServerType string            `json:"server_type"`
	Location   string            `json:"location"`
	Labels     map[string]string `json:"labels"`
	UserData   string            `json:"user_data"`
}

// ActionState is a Hetzner action in the snapshot.
type ActionState struct {
	ID       int64  `json:"id"`
	Command  string `json:"command"`
	Status   string `json:"status"`
	Progress int    `json:"progress"`
}

// AppState is a Fly app in the snapshot.
type AppState struct {
	Name        string   `json:"name"`
	Org         string   `json:"org"`
	SecretNames []string `json:"secret_names"`
}

// MachineState is a Fly machine in the snapshot.
type MachineState struct {
	ID      string            `json:"id"`
	App     string            `json:"app"`
	Name    string            `json:"name"`
	Region  string            `json:"region"`
	State   string            `json:"state"`
	Image   string            `json:"image"`
	Healthy bool              `json:"healthy"`
	Meta    map[string]string `json:"metadata"`
}

// VolumeState is a Fly volume in the snapshot.
type VolumeState struct {
	ID     string `json:"id"`
	App    string `json:"app"`
	Name   string `json:"name"`
	Region string `json:"region"`
	SizeGB int    `json:"size_gb"`
	State  string `json:"state"`
}

// RedisState is an Upstash Redis add-on in the snapshot.
type RedisState struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	OrgID         string `json:"org_id"`
	PrimaryRegion string `json:"primary_region"`
}

// Migration is a recorded data migration: the pg_dump | pg_restore plan a
// machine executed. URLs are recorded without passwords.
type Migration struct {
	ID        string    `json:"id"`
	App       string    `json:"app"`
	MachineID string    `json:"machine_id"`
	Source    string    `json:"source"`
	Target    string    `json:"target"`
	Plan      []string  `json:"plan"`
	At        time.Time `json:"at"`
}

// RecordState is a Cloudflare DNS record in the snapshot.
type RecordState struct {
	ID      string `json:"id"`
	Zone    string `json:"zone"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Content string `json:"content"`
	TTL     int    `json:"ttl"`
	Proxied bool   `json:"proxied"`
}

// State returns a snapshot of the simulators' state.
func (s *Sim) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out State
	out.Hetzner.Servers = []ServerState{}
	out.Hetzner.Actions = []ActionState{}
	for _, sv := range s.st.servers {
		out.Hetzner.Servers = append(out.Hetzner.Servers, ServerState{ID: sv.id, Name: sv.name, Status: s.serverStatus(sv, now),
			ServerType: sv.serverType, Location: sv.location, Labels: sv.labels, UserData: sv.userData})
	}
	sort.Slice(out.Hetzner.Servers, func(i, j int) bool { return out.Hetzner.Servers[i].ID < out.Hetzner.Servers[j].ID })
	for _, a := range s.st.actions {
		st, p := s.actionStatus(a, now)
		out.Hetzner.Actions = append(out.Hetzner.Actions, ActionState{ID: a.id, Command: a.command, Status: st, Progress: p})
	}
	sort.Slice(out.Hetzner.Actions, func(i, j int) bool { return out.Hetzner.Actions[i].ID < out.Hetzner.Actions[j].ID })

	out.Fly.Apps = []AppState{}
	out.Fly.Machines = []MachineState{}
	out.Fly.Volumes = []VolumeState{}
	out.Fly.Redis = []RedisState{}
	out.Fly.Migrations = append([]Migration{}, s.st.migration...)
	for _, a := range s.st.apps {
		names := make([]string, 0, len(a.secrets))
		for k := range a.secrets {
			names = append(names, k)
		}
		sort.Strings(names)
		out.Fly.Apps = append(out.Fly.Apps, AppState{Name: a.name, Org: a.org, SecretNames: names})
	}
	sort.Slice(out.Fly.Apps, func(i, j int) bool { return out.Fly.Apps[i].Name < out.Fly.Apps[j].Name })
	for _, m := range s.st.machines {
		img := ""
		if m.config != nil {
			img = m.config.Image
		}
		var meta map[string]string
		if m.config != nil {
			meta = m.config.Metadata
		}
		out.Fly.Machines = append(out.Fly.Machines, MachineState{ID: m.id, App: m.app, Name: m.name, Region: m.region,
			State: s.machineState(m, now), Image: img, Healthy: m.healthy, Meta: meta})
	}
	sort.Slice(out.Fly.Machines, func(i, j int) bool { return out.Fly.Machines[i].ID < out.Fly.Machines[j].ID })
	for _, v := range s.st.volumes {
		out.Fly.Volumes = append(out.Fly.Volumes, VolumeState{ID: v.ID, App: v.app, Name: v.Name, Region: v.Region, SizeGB: v.SizeGb, State: v.State})
	}
	sort.Slice(out.Fly.Volumes, func(i, j int) bool { return out.Fly.Volumes[i].ID < out.Fly.Volumes[j].ID })
	for _, a := range s.st.addons {
		out.Fly.Redis = append(out.Fly.Redis, RedisState{ID: a.id, Name: a.name, OrgID: a.orgID, PrimaryRegion: a.primaryRegion})
	}
	sort.Slice(out.Fly.Redis, func(i, j int) bool { return out.Fly.Redis[i].Name < out.Fly.Redis[j].Name })

	out.Cloudflare.Records = []RecordState{}
	for _, r := range s.st.records {
		out.Cloudflare.Records = append(out.Cloudflare.Records, RecordState{ID: r.ID, Zone: r.zone, Type: r.Type, Name: r.Name, Content: r.Content, TTL: r.TTL, Proxied: r.Proxied != nil && *r.Proxied})
	}
	sort.Slice(out.Cloudflare.Records, func(i, j int) bool { return out.Cloudflare.Records[i].ID < out.Cloudflare.Records[j].ID })
	out.Requests = make(map[string]int, len(s.st.Requests))
	for k, v := range s.st.Requests {
		out.Requests[k] = v
	}
	return out
}

// Empty reports whether no provider resource exists (tests assert nothing
// leaked).
func (st State) Empty() bool {
	return len(st.Hetzner.Servers) == 0 && len(st.Fly.Apps) == 0 && len(st.Fly.Machines) == 0 &&
		len(st.Fly.Volumes) == 0 && len(st.Fly.Redis) == 0 && len(st.Cloudflare.Records) == 0
}
