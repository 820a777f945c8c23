#!/bin/sh
basedir=$(dirname "$(echo "$0" | sed -e 's,\\,/,g')")

case `uname` in
    *CYGWIN*|*MINGW*|*MSYS*)
        if command -v cygpath > /dev/null 2>&1; then
            basedir=`cygpath -w "$basedir"`
        fi
    ;;
esac

if [ -z "$NODE_PATH" ]; then
  export NODE_PATH="/p/node_modules/.pnpm/safe-npm@1.0.0/node_modules/safe-npm/node_modules:/p/node_modules/.pnpm/safe-npm@1.0.0/node_modules:/p/node_modules/.pnpm/node_modules"
else
  export NODE_PATH="/p/node_modules/.pnpm/safe-npm@1.0.0/node_modules/safe-npm/node_modules:/p/node_modules/.pnpm/safe-npm@1.0.0/node_modules:/p/node_modules/.pnpm/node_modules:$NODE_PATH"
fi
if [ -x "$basedir//bin/sh" ]; then
  exec "$basedir//bin/sh"  "$basedir/../.pnpm/safe-npm@1.0.0/node_modules/safe-npm/dist/cli.cjs" "$@"
else
  exec /bin/sh  "$basedir/../.pnpm/safe-npm@1.0.0/node_modules/safe-npm/dist/cli.cjs" "$@"
fi
