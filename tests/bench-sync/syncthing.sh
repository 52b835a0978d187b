# Syncthing on the same trees, sourced by run.sh (which defines now, since,
# median, tree_hash, rss, WAIT, PIDS, WORK, OWNED, FILES, SIZE, FOLDERS, BIG_MIB).
# Two instances on loopback, A with a send-only folder, B with a
# receive-only one; discovery, relays, NAT, usage reporting and upgrades
# off. Sets ST_SCAN, ST_INITIAL, ST_RSS_A, ST_RSS_B, ST_PSS_A, ST_PSS_B, ST_CHANGE_DEFAULT,
# ST_CHANGE_1S, ST_BIG.

st_api() { # st_api PORT METHOD PATH [JSON]
  curl -sf -X "$2" -H "X-API-Key: benchkey" ${4:+-H 'Content-Type: application/json' -d "$4"} "http://127.0.0.1:$1$3"
}
# Waits until folder $2 of the instance on port $1 is idle with $3 local files and nothing needed.
st_wait_files() { $WAIT st "$1" "$2" "$3" "${4:-600}"; }

syncthing_bench() {
  command -v syncthing > /dev/null || apt-get install -y syncthing > /dev/null
  local ST="$WORK/st" A_GUI=28384 B_GUI=28385 A_PORT=22100 B_PORT=22101
  fresh_fs "$ST"
  syncthing generate --home="$ST/a" --no-default-folder > /dev/null 2>&1
  syncthing generate --home="$ST/b" --no-default-folder > /dev/null 2>&1
  local A_ID B_ID
  A_ID=$(syncthing serve --home="$ST/a" --device-id)
  B_ID=$(syncthing serve --home="$ST/b" --device-id)
  # The same tree as brume's owner had, .members aside.
  cp -a "$OWNED" "$ST/a-tree"; rm -f "$ST/a-tree/.members"
  mkdir -p "$ST/b-tree" "$ST/a-tree/.stfolder" "$ST/b-tree/.stfolder"
  local here; here="$(dirname "${BASH_SOURCE[0]}")"
  python3 "$here/st_config.py" "$ST/a/config.xml" $A_GUI $A_PORT benchkey "$B_ID" $B_PORT "$ST/a-tree" sendonly
  python3 "$here/st_config.py" "$ST/b/config.xml" $B_GUI $B_PORT benchkey "$A_ID" $A_PORT "$ST/b-tree" receiveonly
  export STNOUPGRADE=1 STNODEFAULTFOLDER=1

  local t0; t0=$(now)
  syncthing serve --home="$ST/a" --no-browser --no-restart > "$ST/a.log" 2>&1 &
  local A=$!; PIDS+=("$A")
  st_wait_files $A_GUI bench "$FILES"
  ST_SCAN=$(since "$t0")
  syncthing serve --home="$ST/b" --no-browser --no-restart > "$ST/b.log" 2>&1 &
  local B=$!; PIDS+=("$B")
  # Timed from the two being connected (B's start-up, some 2 s of
  # benchmarks and database set-up, is left out).
  local end=$((SECONDS + 60))
  until st_api $B_GUI GET /rest/system/connections 2>/dev/null | grep -q '"connected": *true'; do
    [ $SECONDS -lt $end ] || { echo "syncthing: B never connected" >&2; return 1; }
    sleep 0.02
  done
  t0=$(now)
  st_wait_files $B_GUI bench "$FILES"
  ST_INITIAL=$(since "$t0")
  [ "$(tree_hash "$ST/b-tree")" = "$(tree_hash "$ST/a-tree")" ] || { echo "syncthing: tree hash differs" >&2; return 1; }
  # Syncthing runs as a monitor and the process it starts: both count.
  st_rss() { local t=0 p; for p in "$1" $(pgrep -P "$1"); do t=$(echo "$t + $(rss "$p")" | bc -l); done; echo "$t"; }
  ST_RSS_A=$(st_rss "$A"); ST_RSS_B=$(st_rss "$B")
  st_pss() { local t=0 p; for p in "$1" $(pgrep -P "$1"); do t=$(echo "$t + $(pss "$p")" | bc -l); done; echo "$t"; }
  ST_PSS_A=$(st_pss "$A"); ST_PSS_B=$(st_pss "$B")

  st_changes() { # five changes on A, each timed until B holds it
    local out=() i f T end
    for i in 1 2 3 4 5; do
      f="d$(printf %03d $((i % FOLDERS)))/f$(printf %05d $((i + $1))).bin"
      python3 -c "import os,sys; open(sys.argv[1],'wb').write(os.urandom($SIZE))" "$ST/a-tree/$f"
      T=$(now)
      $WAIT same "$ST/a-tree/$f" "$ST/b-tree/$f" 60 || { echo "syncthing: change never arrived" >&2; return 1; }
      out+=("$(since "$T")")
    done
    printf '%s\n' "${out[@]}" | median
  }
  ST_CHANGE_DEFAULT=$(st_changes 200)
  st_api $A_GUI PATCH /rest/config/folders/bench '{"fsWatcherDelayS":1}' > /dev/null
  sleep 1 # the folder restarts with the new delay
  ST_CHANGE_1S=$(st_changes 300)

  ST_BIG=""
  if [ "${BIG_MIB:-0}" -gt 0 ]; then
    # On the machine's own disk, as brume's large file is (run.sh says why).
    local big="$WORK/st-disk"
    mkdir -p "$big/a-big/.stfolder" "$big/b-big/.stfolder"
    cp "$WORK/big.bin" "$big/a-big/big.bin"
    local folder='{"id":"big","label":"big","path":"%s","type":"%s","fsWatcherDelayS":1,"devices":[{"deviceID":"%s"},{"deviceID":"%s"}]}'
    # shellcheck disable=SC2059
    st_api $A_GUI POST /rest/config/folders "$(printf "$folder" "$big/a-big" sendonly "$A_ID" "$B_ID")" > /dev/null
    st_wait_files $A_GUI big 1
    t0=$(now)
    # shellcheck disable=SC2059
    st_api $B_GUI POST /rest/config/folders "$(printf "$folder" "$big/b-big" receiveonly "$A_ID" "$B_ID")" > /dev/null
    st_wait_files $B_GUI big 1
    ST_BIG=$(since "$t0")
    cmp -s "$big/a-big/big.bin" "$big/b-big/big.bin" || { echo "syncthing: the big file differs" >&2; return 1; }
  fi
  kill "$A" "$B" 2>/dev/null || true
}
