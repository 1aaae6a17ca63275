package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc CPU times on Linux.
const clockTicks = 100

// cpuSample is the CPU seconds used so far by the processes a run involves
// (the manager, kube-apiserver, etcd, dockerd, containerd) and by the
// whole machine (busy and total over all cores).
type cpuSample struct {
	procs       map[string]float64
	busy, total float64
}

// sampleCPU reads the CPU times of the processes of interest.
func (b *bench) sampleCPU(m *manager) cpuSample {
	s := cpuSample{procs: map[string]float64{}}
	self := os.Getpid()
	dockerd := 0
	sock := strings.TrimPrefix(b.dockerHost, "unix://")
	entries, _ := os.ReadDir("/proc")
	type proc struct {
		pid, ppid int
		comm      string
		cpu       float64
	}
	var all []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, ppid, cpu, ok := procStat(pid)
		if !ok {
			continue
		}
		all = append(all, proc{pid, ppid, comm, cpu})
		if comm == "dockerd" {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if strings.Contains(string(cmdline), sock) {
				dockerd = pid
			}
		}
	}
	for _, p := range all {
		switch {
		case m != nil && p.pid == m.cmd.Process.Pid:
			s.procs["manager"] += p.cpu
		case p.ppid == self && (p.comm == "kube-apiserver" || p.comm == "etcd"):
			s.procs[p.comm] += p.cpu
		case p.pid == dockerd:
			s.procs["dockerd"] += p.cpu
		case dockerd != 0 && p.ppid == dockerd && p.comm == "containerd":
			s.procs["containerd"] += p.cpu
		}
	}
	data, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(data), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		s.total += v / clockTicks
		if i != 3 && i != 4 { // idle, iowait
			s.busy += v / clockTicks
		}
	}
	return s
}

// procStat returns a process's name, parent and CPU seconds (user+system).
func procStat(pid int) (comm string, ppid int, cpu float64, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, false
	}
	s := string(data)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < 0 {
		return "", 0, 0, false
	}
	comm = s[open+1 : closing]
	f := strings.Fields(s[closing+1:])
	if len(f) < 13 {
		return "", 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return comm, ppid, (utime + stime) / clockTicks, true
}

// since is the CPU used between before and s, as "manager 3.1 s, dockerd
// 40.2 s, ..., machine 85% busy".
func (s cpuSample) since(before cpuSample) string {
	var parts []string
	for _, name := range []string{"manager", "kube-apiserver", "etcd", "dockerd", "containerd"} {
		if _, ok := s.procs[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f s", name, s.procs[name]-before.procs[name]))
		}
	}
	if total := s.total - before.total; total > 0 {
		parts = append(parts, fmt.Sprintf("machine %.0f%% busy", 100*(s.busy-before.busy)/total))
	}
	return strings.Join(parts, ", ")
}
