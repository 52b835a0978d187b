# Reads node's TAP report and prints the test files whose process died of a
# native crash (SIGSEGV, SIGBUS) rather than failing a test; exits 1 if any
# other failure is in the report, since only a crash earns a second run.
/^not ok [0-9]+ - / {
    if (pending) other = 1
    name = $0
    sub(/^not ok [0-9]+ - /, "", name)
    pending = 1
    next
}
pending && /^  signal: 'SIG(SEGV|BUS)'/ {
    if (name ~ /\.test\.mjs$/) print name
    else other = 1
    pending = 0
    next
}
pending && /^  \.\.\.$/ {
    other = 1
    pending = 0
}
END {
    if (pending) other = 1
    exit other
}
