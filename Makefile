# 仙台市 学校教育情報化推進計画 取組状況調査パイプライン
# `make` だけで、使えるコマンドの一覧を表示します。
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

ROSTER ?= config/schools.csv
INBOX ?= inbox
OUTBOX ?= outbox
OUT ?= templates/xlsx
TEMPLATES ?= templates/xlsx
RUN ?=
BENCH ?=
MESSAGES ?=
SMTP_HOST ?=
SMTP_PORT ?=
SEND_OPTS := $(if $(filter 1,$(SEND)),--send) $(if $(SMTP_HOST),--smtp-host $(SMTP_HOST)) $(if $(SMTP_PORT),--smtp-port $(SMTP_PORT))
RUN_OPT := $(if $(RUN),--run $(RUN))
# DEFINITION=調査定義（YAML または .xlsx）: every command uses it (through PIPELINE_DEFINITION).
DEFINITION ?=
ifneq ($(DEFINITION),)
export PIPELINE_DEFINITION := $(DEFINITION)
endif
# OUT given on the command line: where definition-export / definition-check write (their own defaults otherwise).
DEF_OUT_OPT := $(if $(filter command line environment,$(origin OUT)),--out "$(OUT)")

.PHONY: help venv templates collect consolidate cycle demo mail-distribute mail-remind mail-return definition-export definition-check test bench fuzz clean

help: ## このコマンド一覧を表示する
	@echo "使い方: make <コマンド>"
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	@test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

venv: $(STAMP) ## Python の仮想環境を作り、必要なパッケージを入れる（初回は自動）

templates: $(STAMP) ## 学校一覧から学校ごとの調査票を templates/xlsx/ に作る
	$(VPY) -m pipeline templates --roster $(ROSTER) --out $(OUT)

collect: $(STAMP) ## 返信メールの添付（受信箱、または MESSAGES= の保存したメール）を inbox/ に取り込む
	$(VPY) -m pipeline collect --inbox $(INBOX) $(if $(MESSAGES),--messages $(MESSAGES))

consolidate: $(STAMP) ## inbox/ の提出ファイルを検査・集約し、outbox/ に結果を出す
	$(VPY) -m pipeline consolidate --roster $(ROSTER) --inbox $(INBOX) --outbox $(OUTBOX)

cycle: $(STAMP) ## 回収→集約→返信（受領のお知らせ・差戻し）を1回行う。定期実行用（SEND=1 で送信、MESSAGES= で保存したメールから）
	$(VPY) -m pipeline cycle --roster $(ROSTER) --inbox $(INBOX) --outbox $(OUTBOX) $(if $(MESSAGES),--messages $(MESSAGES)) $(SEND_OPTS)

demo: $(STAMP) ## 見本データで一通り動かす（様式作成→模擬提出→集約）
	$(VPY) -m pipeline demo

mail-distribute: $(STAMP) ## 調査票を添付した配布メールを作る（SEND=1 で送信）
	$(VPY) -m pipeline mail distribute --roster $(ROSTER) --templates $(TEMPLATES) --outbox $(OUTBOX) $(SEND_OPTS)

mail-remind: $(STAMP) ## 未提出校への督促メールを作る（SEND=1 で送信）
	$(VPY) -m pipeline mail remind --roster $(ROSTER) --outbox $(OUTBOX) $(RUN_OPT) $(SEND_OPTS)

mail-return: $(STAMP) ## エラー・確認事項のある学校への差戻しメールを作る（SEND=1 で送信）
	$(VPY) -m pipeline mail return --roster $(ROSTER) --outbox $(OUTBOX) $(RUN_OPT) $(SEND_OPTS)

definition-export: $(STAMP) ## 調査定義を Excel で編集できる outbox/調査定義_<年度>.xlsx に書き出す（DEFINITION= OUT=）
	$(VPY) -m pipeline definition export $(DEF_OUT_OPT)

definition-check: $(STAMP) ## 調査定義（.xlsx）を確かめ、校種ごとの見本の調査票を outbox/preview/ に作る（DEFINITION= OUT=）
	$(VPY) -m pipeline definition check --roster $(ROSTER) $(DEF_OUT_OPT)

test: $(STAMP) ## すべてのテストを実行する
	$(VPY) -m pytest -q

bench: $(STAMP) ## 処理速度を目標と比べて測る（BENCH="--sizes 190,2000" で一部だけ）
	$(VPY) -m devtools.bench $(BENCH)

fuzz: $(STAMP) ## 壊れた・悪意のある入力を大量に試す（1,000例以上）
	HYPOTHESIS_PROFILE=fuzz $(VPY) -m pytest -q tests/test_fuzz.py

clean: ## 仮想環境と生成物を消す（inbox/ は消さない）
	rm -rf $(VENV) .pytest_cache
	find templates/xlsx -type f ! -name .gitkeep -delete
