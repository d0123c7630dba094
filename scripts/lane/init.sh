#!/bin/busybox sh
# PID 1 of the KVM lane's guest (runs from the initramfs built by scripts/lane/image.ts).
# Loads the KVM and 9p modules, mounts the host's root read-only and the project read-write at
# the same paths as on the host, runs the job the host wrote into its run directory, writes the
# job's exit status next to it and powers off. Output of the job goes to the second serial port
# (ttyS1), which the host streams; the kernel console stays on ttyS0, which the host logs.
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "hvkit-lane: $*" > /dev/ttyS1; }
die() { say "guest setup failed: $*"; echo "hvkit-lane: guest setup failed: $*" > /dev/ttyS0; poweroff -f; }

stty -F /dev/ttyS1 raw -echo 2>/dev/null

for arg in $(cat /proc/cmdline); do
  case "$arg" in
    hvkit.run=*) RUN="${arg#hvkit.run=}" ;;
    hvkit.project=*) PROJECT="${arg#hvkit.project=}" ;;
  esac
done
[ -n "$RUN" ] && [ -n "$PROJECT" ] || die "hvkit.run= and hvkit.project= are missing from the kernel command line"

for m in virtio_pci 9pnet_virtio 9p; do modprobe "$m" || die "modprobe $m"; done
# Under QEMU's emulator the CPU is an AMD one with SVM; kvm_intel is there for a CPU with VMX.
# npt=0: with nested paging, QEMU 7.2's emulation of it corrupted this kernel's memory under load
# (panic "corrupted stack end detected inside scheduler" while hvkit's demo ran 8 vCPUs, twice
# in a row); with shadow paging the same run passes.
if grep -qw svm /proc/cpuinfo; then modprobe kvm_amd npt=0 || die "modprobe kvm_amd"
elif grep -qw vmx /proc/cpuinfo; then modprobe kvm_intel || die "modprobe kvm_intel"
else die "the CPU has neither svm nor vmx"; fi
[ -c /dev/kvm ] || die "/dev/kvm did not appear"

NEW=/newroot
mkdir -p $NEW
# cache=loose: nothing changes the host's root while the guest runs, and it makes loading node
# and the project's modules over 9p several times faster.
opts=trans=virtio,version=9p2000.L,msize=262144,cache=loose
mount -t 9p -o "$opts,ro" hostroot $NEW || die "mount the host's root"
for d in /tmp /var/tmp /run /root; do mount -t tmpfs -o mode=1777 tmpfs "$NEW$d" || die "tmpfs on $d"; done
# After the tmpfs mounts, so a project that lives under /tmp (a CI checkout) is not hidden by them.
mkdir -p "$NEW$PROJECT" 2>/dev/null
mount -t 9p -o "$opts" project "$NEW$PROJECT" || die "mount the project at $PROJECT"
chmod 700 $NEW/root
mount -t proc proc $NEW/proc
mount -t sysfs sysfs $NEW/sys
mount -t devtmpfs devtmpfs $NEW/dev
mkdir -p $NEW/dev/pts $NEW/dev/shm
mount -t devpts devpts $NEW/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $NEW/dev/shm
mount -t debugfs debugfs $NEW/sys/kernel/debug 2>/dev/null
ip link set lo up || die "loopback up"

# The guest's own tools after the switch: this busybox, kept in the new root's /run.
mkdir -p $NEW/run/hvkit-lane
cp /bin/busybox $NEW/run/hvkit-lane/busybox

say "ready ($(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(ls /sys/module | grep -E '^kvm_(amd|intel)$'))"
exec switch_root $NEW /run/hvkit-lane/busybox sh -c '
  B=/run/hvkit-lane/busybox
  RUN="$1"
  cd "$RUN" || exit 1
  $B sh "$RUN/job.sh" < /dev/null > /dev/ttyS1 2>&1
  echo $? > "$RUN/status"
  $B sync
  $B poweroff -f
' lane-init "$RUN"
