# shellcheck shell=bash
# Run by prepare.yml on the git server: /srv/git/lib.git and /srv/git/app.git
# (bare, owned by git), app at tag v1.0.7 with lib as its submodule vendor/lib
# (a relative URL: the deploy reaches it as it reaches app, over SSH).
cd /srv/work || exit 1
git config --global user.email ci@example.invalid
git config --global user.name ci
git config --global init.defaultBranch main
git config --global protocol.file.allow always
rm -rf lib && mkdir lib && cd lib && git init -q || exit 1
echo "from a submodule" > marker.txt
git add -A && git commit -qm lib && cd .. || exit 1
git clone -q --bare lib /srv/git/lib.git
cd app && git init -q || exit 1
echo 1.0.7 > VERSION
git submodule -q add /srv/git/lib.git vendor/lib
git config -f .gitmodules submodule.vendor/lib.url ../lib.git
git add -A && git commit -qm "1.0.7" && git tag v1.0.7
cd .. && git clone -q --bare app /srv/git/app.git || exit 1
chown -R git:git /srv/git
