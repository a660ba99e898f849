// The private root of the jail (evaluator/jail.h): a size-limited tmpfs that holds only the
// listed binds, entered with pivot_root. The sequence (tmpfs mounted over /tmp, pivot into it with
// the old root kept at /.oldroot as the source of the binds, then the old root detached) is the
// one bubblewrap uses; this is our own code.
#include "evaluator/jail_internal.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace adrs::jail_internal {

namespace {

constexpr const char* kOldRoot = "/.oldroot";

Status errno_status(const std::string& what) { return Status::Error(what + ": " + std::strerror(errno)); }

// mkdir -p inside the new root.
bool make_dirs(const std::string& path, mode_t mode) {
  for (size_t at = 1; at <= path.size(); ++at) {
    if (at != path.size() && path[at] != '/') continue;
    const std::string prefix = path.substr(0, at);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) return false;
  }
  return true;
}

std::string parent_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// Remount flags that a bind must keep: flags locked by a more privileged mount namespace cannot
// be cleared, and a remount that omits them fails.
unsigned long kept_flags(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return 0;
  unsigned long flags = 0;
  if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  if (st.f_flag & ST_RDONLY) flags |= MS_RDONLY;
  return flags;
}

Status remount_bind(const std::string& inside, bool writable, bool device, const std::string& name) {
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | kept_flags(inside);
  if (!writable) flags |= MS_RDONLY;
  if (!device) flags |= MS_NODEV;
  if (::mount(nullptr, inside.c_str(), nullptr, flags, nullptr) != 0)
    return errno_status("jail: cannot make the bind of " + name + (writable ? " nosuid" : " read-only"));
  return Status::Ok();
}

Status add_bind(const JailBind& bind) {
  const std::string inside = bind.inside.empty() ? bind.outside : bind.inside;
  if (bind.outside.empty() || bind.outside[0] != '/' || inside[0] != '/')
    return Status::Error("jail bind '" + bind.outside + "': paths must be absolute");
  const std::string source = kOldRoot + bind.outside;
  struct stat st {};
  if (::lstat(source.c_str(), &st) != 0) {
    if (bind.optional && errno == ENOENT) return Status::Ok();
    return errno_status("jail bind " + bind.outside);
  }
  if (!make_dirs(parent_of(inside), 0755)) return errno_status("jail: cannot create " + parent_of(inside));
  if (S_ISLNK(st.st_mode)) {
    // Debian's /lib -> usr/lib: the same link inside keeps paths in binaries working.
    char target[4096];
    const ssize_t length = ::readlink(source.c_str(), target, sizeof target - 1);
    if (length <= 0) return errno_status("jail: cannot read the link " + bind.outside);
    target[length] = '\0';
    if (::symlink(target, inside.c_str()) != 0 && errno != EEXIST) return errno_status("jail: cannot link " + inside);
    return Status::Ok();
  }
  if (S_ISDIR(st.st_mode)) {
    if (!make_dirs(inside, 0755)) return errno_status("jail: cannot create " + inside);
  } else {
    const int fd = ::open(inside.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0) return errno_status("jail: cannot create the mount point " + inside);
    ::close(fd);
  }
  if (::mount(source.c_str(), inside.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return errno_status("jail: cannot bind " + bind.outside);
  return remount_bind(inside, bind.writable, bind.device, bind.outside);
}

// An empty read-only tmpfs over `path` when it exists (e.g. /usr/local inside a bound /usr).
Status hide(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Status::Ok();
  if (::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k") != 0)
    return errno_status("jail: cannot hide " + path);
  return Status::Ok();
}

}  // namespace

Status build_root(const JailSpec& spec, JailReport* report) {
  // Nothing we mount may propagate back to the host's mount namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno_status("jail: cannot make / private");
  const std::string options = "size=" + std::to_string(spec.tmpfs_mb) + "m,nr_inodes=" +
                              std::to_string(spec.tmpfs_inodes) + ",mode=0755";
  if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
    return errno_status("jail: cannot mount the tmpfs root");
  if (::chdir("/tmp") != 0 || ::mkdir(".oldroot", 0700) != 0) return errno_status("jail: cannot prepare the root");
  if (::syscall(SYS_pivot_root, ".", ".oldroot") != 0) return errno_status("jail: pivot_root failed");
  if (::chdir("/") != 0) return errno_status("jail: cannot enter the new root");
  for (const JailBind& bind : spec.binds)
    if (Status s = add_bind(bind); !s.ok()) return s;
  for (const std::string& path : spec.hidden_dirs)
    if (Status s = hide(path); !s.ok()) return s;
  for (const std::string& dir : spec.writable_dirs) {
    if (dir.empty() || dir[0] != '/') return Status::Error("jail: writable dir '" + dir + "' must be absolute");
    if (!make_dirs(parent_of(dir), 0755) || ::mkdir(dir.c_str(), 0700) != 0)
      return errno_status("jail: cannot create the writable dir " + dir);
  }
  if (spec.mount_proc) {
    if (!make_dirs("/proc", 0555) ||
        ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
      return errno_status("jail: cannot mount /proc");
  }
  if (::umount2(kOldRoot, MNT_DETACH) != 0 || ::rmdir(kOldRoot) != 0) return errno_status("jail: cannot drop the old root");
  // "/" belongs to the jail's root user; without capabilities it cannot add files beside the
  // writable dirs (which live in the same size-limited tmpfs).
  if (::chmod("/", 0555) != 0) return errno_status("jail: cannot seal /");
  report->private_root = true;
  report->active.push_back("private tmpfs root (" + std::to_string(spec.tmpfs_mb) + " MB, " +
                           std::to_string(spec.tmpfs_inodes) + " inodes" + (spec.mount_proc ? ", /proc" : ", no /proc") + ")");
  return Status::Ok();
}

}  // namespace adrs::jail_internal

namespace adrs {

Status seal_read_only(const std::string& dir) {
  if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return jail_internal::errno_status("jail: cannot bind " + dir);
  return jail_internal::remount_bind(dir, false, false, dir);
}

}  // namespace adrs
