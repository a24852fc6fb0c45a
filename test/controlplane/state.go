package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// state is what state.json records, so another program can attach to or stop a detached plane.
type state struct {
	Dir            string   `json:"dir"`
	EtcdBin        string   `json:"etcdBin"`
	EtcdArgs       []string `json:"etcdArgs"`
	EtcdPID        int      `json:"etcdPID"`
	APIServerBin   string   `json:"apiserverBin"`
	APIServerArgs  []string `json:"apiserverArgs"`
	APIServerPID   int      `json:"apiserverPID"`
	EtcdClientPort int      `json:"etcdClientPort"`
	EtcdPeerPort   int      `json:"etcdPeerPort"`
	SecurePort     int      `json:"securePort"`
	AdminToken     string   `json:"adminToken"`
	CoreDNSToken   string   `json:"corednsToken"`
	ServiceCIDRs   []string `json:"serviceCIDRs,omitempty"`
	// Controllers are kube-controller-manager and the servicecontroller, when they run.
	Controllers []processState `json:"controllers,omitempty"`
}

// processState records one controller process.
type processState struct {
	Name string   `json:"name"`
	Bin  string   `json:"bin"`
	Args []string `json:"args"`
	PID  int      `json:"pid"`
}

const (
	stateFile        = "state.json"
	etcdPIDFile      = "etcd.pid"
	apiserverPIDFile = "kube-apiserver.pid"
	etcdLogFile      = "etcd.log"
	apiserverLogFile = "kube-apiserver.log"
)

func (c *ControlPlane) anyRunning() bool {
	e, _ := c.etcd.exited()
	a, _ := c.apiserver.exited()
	running := !e || !a
	for _, p := range c.controllers {
		if gone, _ := p.exited(); !gone {
			running = true
		}
	}
	return running
}

// saveState writes state.json; errors are ignored as it only serves Attach and StopFromPIDFile.
func (c *ControlPlane) saveState() {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	s := state{
		Dir:            c.dir,
		EtcdBin:        c.etcd.bin,
		EtcdArgs:       c.etcd.args,
		EtcdPID:        c.etcd.getPID(),
		APIServerBin:   c.apiserver.bin,
		APIServerArgs:  c.apiserver.args,
		APIServerPID:   c.apiserver.getPID(),
		EtcdClientPort: c.etcdClient,
		EtcdPeerPort:   c.etcdPeer,
		SecurePort:     c.securePort,
		AdminToken:     c.adminToken,
		CoreDNSToken:   c.corednsToken,
		ServiceCIDRs:   c.serviceCIDRs,
	}
	for _, p := range c.controllers {
		s.Controllers = append(s.Controllers, processState{Name: p.name, Bin: p.bin, Args: p.args, PID: p.getPID()})
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return
	}
	tmp := c.path(stateFile + ".tmp")
	if os.WriteFile(tmp, data, 0o600) == nil {
		_ = os.Rename(tmp, c.path(stateFile))
	}
}

// Attach returns the control plane recorded in dir/state.json, typically one started with
// Options.Detach by another program. Its processes can be stopped and restarted as usual; Stop
// never removes dir.
func Attach(dir string) (*ControlPlane, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	c := &ControlPlane{
		dir:          dir,
		timeout:      60 * time.Second,
		securePort:   s.SecurePort,
		etcdClient:   s.EtcdClientPort,
		etcdPeer:     s.EtcdPeerPort,
		adminToken:   s.AdminToken,
		corednsToken: s.CoreDNSToken,
		serviceCIDRs: s.ServiceCIDRs,
	}
	if len(c.serviceCIDRs) == 0 {
		c.serviceCIDRs = []string{ServiceClusterIPRange}
	}
	if c.caPEM, err = os.ReadFile(c.CAFile()); err != nil {
		return nil, err
	}
	c.etcd = &process{name: "etcd", bin: s.EtcdBin, args: s.EtcdArgs, pid: s.EtcdPID,
		logPath: c.path(etcdLogFile), pidPath: c.path(etcdPIDFile), detach: true}
	c.apiserver = &process{name: "kube-apiserver", bin: s.APIServerBin, args: s.APIServerArgs, pid: s.APIServerPID,
		logPath: c.path(apiserverLogFile), pidPath: c.path(apiserverPIDFile), detach: true}
	for _, p := range s.Controllers {
		c.controllers = append(c.controllers, &process{name: p.Name, bin: p.Bin, args: p.Args, pid: p.PID,
			logPath: c.path(p.Name + ".log"), pidPath: c.path(p.Name + ".pid"), detach: true})
	}
	return c, nil
}

// StopFromPIDFile stops the control plane recorded in dir (see Options.Detach). It is not an
// error if none is recorded or it is already gone.
func StopFromPIDFile(dir string) error {
	c, err := Attach(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.Stop()
}
