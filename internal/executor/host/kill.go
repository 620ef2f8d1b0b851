package host

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// killSession sends sig to the process group sid and to every other process
// of session sid: a step's shell is a session leader, and background jobs
// started with job control (bash's `set -m`) move to groups of their own but
// stay in its session. Processes already gone are no error. Outside Linux
// only the group is signalled.
func killSession(sid int, sig syscall.Signal) {
	_ = syscall.Kill(-sid, sig)
	for _, pid := range sessionMembers(sid) {
		_ = syscall.Kill(pid, sig)
	}
}

// sessionMembers lists the processes of session sid found in /proc.
func sessionMembers(sid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, ok := procSession(pid); ok && s == sid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procSession reads the session ID of pid from /proc/<pid>/stat, whose
// fields after the parenthesised command name are: state, ppid, pgrp,
// session, ...
func procSession(pid int) (int, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 4 {
		return 0, false
	}
	sid, err := strconv.Atoi(string(fields[3]))
	return sid, err == nil
}
