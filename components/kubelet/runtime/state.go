package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// containerRecord is config.json: written once by StartContainer before the
// monitor starts, read by the monitor and by every status query.
type containerRecord struct {
	ID        string          `json:"id"`
	PodUID    string          `json:"podUID"`
	Config    ContainerConfig `json:"config"`
	Sandbox   Sandbox         `json:"sandbox"`
	CreatedAt time.Time       `json:"createdAt"`
	// CgroupPath is the container's cgroup, relative like Options.CgroupParent.
	CgroupPath string `json:"cgroupPath"`
	// LibcontainerRoot is where libcontainer keeps its state.
	LibcontainerRoot string `json:"libcontainerRoot"`
}

// monitorState is state.json: written only by the monitor, atomically.
type monitorState struct {
	MonitorPid int `json:"monitorPid"`
	// MonitorStart is the monitor's start time in clock ticks since boot
	// (/proc/<pid>/stat field 22): with the pid it names the process even
	// after pid reuse.
	MonitorStart uint64    `json:"monitorStart"`
	Pid          int       `json:"pid,omitempty"`
	StartedAt    time.Time `json:"startedAt,omitzero"`
	Exited       bool      `json:"exited,omitempty"`
	FinishedAt   time.Time `json:"finishedAt,omitzero"`
	ExitCode     int       `json:"exitCode"`
	Reason       string    `json:"reason,omitempty"`
	Message      string    `json:"message,omitempty"`
}

// writeJSONAtomic writes v to path via a temporary file and rename, so a
// reader sees either the old or the new content, never a partial one.
func writeJSONAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// procStartTime returns field 22 of /proc/<pid>/stat.
func procStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces and parentheses: the
	// fields we want start after the last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// processAlive reports whether pid is still the process that started at
// start (and has not exited: a zombie counts as gone).
func processAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := procStartTime(pid)
	if err != nil || st != start {
		return false
	}
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	return i < 0 || i+2 >= len(data) || (data[i+2] != 'Z' && data[i+2] != 'X')
}

// containerID joins the parts of an ID; parseID splits one. Pod UIDs and
// container names contain no '_', but parseID splits from the right so a
// pod UID with '_' still works.
func containerID(podUID, name string, attempt int) string {
	return podUID + "_" + name + "_" + strconv.Itoa(attempt)
}

func parseID(id string) (podUID, name string, attempt int, err error) {
	j := strings.LastIndexByte(id, '_')
	if j <= 0 {
		return "", "", 0, fmt.Errorf("container id %q: want <podUID>_<name>_<attempt>", id)
	}
	i := strings.LastIndexByte(id[:j], '_')
	if i <= 0 {
		return "", "", 0, fmt.Errorf("container id %q: want <podUID>_<name>_<attempt>", id)
	}
	attempt, err = strconv.Atoi(id[j+1:])
	if err != nil || attempt < 0 {
		return "", "", 0, fmt.Errorf("container id %q: bad attempt", id)
	}
	return id[:i], id[i+1 : j], attempt, nil
}

// ErrNotFound is returned for an unknown sandbox or container.
var ErrNotFound = errors.New("not found")
