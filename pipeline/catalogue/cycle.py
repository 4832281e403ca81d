"""What `cycle` says: its record and log, the decision about each collected file, the console lines and
the errors that stop a cycle (exit 2). The replies themselves are mail templates (receipt.txt.j2,
return.txt.j2)."""
from __future__ import annotations

from ..ja import SCHOOL_STATUS

TEXTS = {
    # --- where a cycle keeps what it did (in the outbox)
    "cycle.folder": "定期実行",
    "cycle.record-file": "返信記録.csv",
    # --- the kinds of reply, and what is done with a file that gets none
    "cycle.label": "返信",
    "cycle.reply.receipt": "受領のお知らせ",
    "cycle.reply.return": "差戻し",
    "cycle.status.superseded": "旧版",
    "cycle.status.same_bytes": "返信済みと同じ内容",
    "cycle.status.unidentified": "学校不明",
    "cycle.status.gone": "inbox にない",
    "cycle.why.superseded": "同じ学校のより新しいファイル（{newest}）があるため、返信しません。",
    "cycle.why.same_bytes": "同じ内容のファイルに返信済みのため、返信しません。",
    "cycle.why.unidentified": "ファイルから学校を特定できず、差出人 {sender} も学校一覧の1校のアドレスではないため、"
                              "返信していません。ファイルと回収記録を確かめ、必要なら学校に連絡してください。",
    "cycle.why.gone": "回収記録にはありますが inbox にありません（削除または移動されたようです）。返信しません。",
    "cycle.no-return-file": "差戻しファイルが作られていないため、差戻しメールを作れません。"
                            "集約結果_職員用.xlsx の「エラー・確認一覧」を確かめてください。",
    # --- the log (and the console)
    "cycle.nothing-new": "新しいメールはありません（{total} 通を確認、{seconds:.1f} 秒）。",
    "cycle.no-files": "新しく届いた調査票はないため、集約・返信はしません（{seconds:.1f} 秒）。",
    "cycle.consolidated": "集約しました（{seconds:.1f} 秒）: " + SCHOOL_STATUS["submitted"] + " {submitted} 校・"
                          + SCHOOL_STATUS["invalid"] + " {invalid} 校・" + SCHOOL_STATUS["missing"] + " {missing} 校。"
                          "結果フォルダ {folder}",
    "cycle.replies-heading": "返信する学校（{count} 校）:",
    "cycle.reply-line": "  [{reply}] {code} {name}: {file}（{received} 受信）",
    "cycle.no-reply-heading": "返信しないファイル（{count} 件）:",
    "cycle.no-reply-line": "  [{status}] {file}（{school}）: {why}",
    "cycle.unknown-school": "学校不明",
    "cycle.mail-folder": "返信メール（下書き、または送信したメールの控え）と送信一覧: {folder}",
    "cycle.done": "定期実行が終わりました（{seconds:.1f} 秒）。",
    "cycle.busy": "前回の定期実行がまだ終わっていないため、今回は何もしません（{path}）。",
    "cycle.consolidate-busy": "別の集約が実行中のため、今回は集約と返信をしません。次回の定期実行で行います。",
    "cycle.interrupted": "中断されました。送信した返信は返信記録に記録済みです。",
    "cycle.crashed": "予期しないエラーで止まりました（{error}）。送信した返信は返信記録に記録済みです。"
                     "このログを開発の担当者に知らせてください。",
    # --- errors that stop a cycle (exit 2)
    "cycle.mailbox-failed": "受信箱からメールを取り込めないため、今回の定期実行を中止しました"
                            "（集約・返信はしていません。次回の定期実行でもう一度試します）:",
    "cycle.smtp-failed": "送信サーバーに接続できないため、返信を1通も送っていません"
                         "（次回の定期実行でもう一度送ります）:",
    "cycle.smtp-stopped": "返信の送信が途中で止まりました（{reason}）。送信した {sent} 通は返信記録に記録しました。"
                          "残りの {left} 通は次回の定期実行で送ります。",
    "cycle.record-unreadable": "返信記録 {path} を読めません（{reason}）。Excel で上書き保存した場合は、元のファイルに戻してください。",
    "cycle.record-unwritable": "返信記録 {path} に書き込めません（{reason}）。Excel などで開いている場合は閉じてください。",
    "cycle.log-unwritable": "定期実行の記録のフォルダ {folder} に書き込めません（{reason}）。出力先と書き込み権限を確かめてください。",
}
