// What a logged-in user may do; checked by handlers before they touch storage.

export interface Permissions {
  list: boolean;
  download: boolean;
  upload: boolean;
  overwrite: boolean;
  append: boolean;
  delete: boolean;
  rename: boolean;
  mkdir: boolean;
  rmdir: boolean;
  chmod: boolean;
}

export type Permission = keyof Permissions;

export const ALL_PERMISSIONS: Permissions = {
  list: true, download: true, upload: true, overwrite: true, append: true,
  delete: true, rename: true, mkdir: true, rmdir: true, chmod: true,
};

export const READ_ONLY: Permissions = {
  list: true, download: true, upload: false, overwrite: false, append: false,
  delete: false, rename: false, mkdir: false, rmdir: false, chmod: false,
};

export function permissionsFrom(partial: Partial<Permissions> | undefined, base: Permissions): Permissions {
  return { ...base, ...(partial ?? {}) };
}
