"""What the ledger says about each file found in the inbox, and the details of a file-level problem.

- ``ignored.*``: why a file is no submission at all (the ledger's reason of an ``ignored`` row);
- ``reason.*``: why a file that was read is not the one used (``rejected`` / ``superseded`` rows);
  a file rejected while being read has its problem's message as its reason (problems.py);
- ``order.*``: the pieces of the ``submissions-differ`` query (which of two files was used, and why);
- ``format.*``: what a file that is not a spreadsheet is, filling {detected} of ``file-not-spreadsheet``;
- ``detail.*``: the {detail} of the other file-level problems (broken, unsafe, too large, links...).
"""
from __future__ import annotations

TEXTS = {
    # --- ignored: lock and system files
    "ignored.excel-lock": "Excel がファイルを開いている間に作る一時ファイル（~$ で始まる名前）のため対象外です。",
    "ignored.libreoffice-lock": "LibreOffice がファイルを開いている間に作るロックファイルのため対象外です。",
    "ignored.macos-archive-folder": "macOS が圧縮ファイルに付ける付属データ（__MACOSX フォルダー）のため対象外です。",
    "ignored.macos-resource-fork": "macOS が作る付属ファイル（._ で始まる名前）のため対象外です。",
    "ignored.thumbs-db": "Windows が自動で作る縮小表示用のファイル（Thumbs.db）のため対象外です。",
    "ignored.ehthumbs-db": "Windows が自動で作る縮小表示用のファイル（ehthumbs.db）のため対象外です。",
    "ignored.desktop-ini": "Windows が自動で作るフォルダー設定ファイル（desktop.ini）のため対象外です。",
    "ignored.ds-store": "macOS が自動で作るフォルダー設定ファイル（.DS_Store）のため対象外です。",
    "ignored.hidden-file": "名前が「.」で始まる隠しファイル（.gitkeep など、ソフトが作るもの）のため対象外です。",
    # --- reason: a file read but not used
    "reason.has-errors": "エラーが{count}件あるため使用しません（エラーの内容は職員用の集約結果と差戻しファイルにあります）。",
    "reason.superseded": "同じ学校のより新しい提出（{winner}）を使用します。",
    "reason.name-hint": "（ファイル名に学校一覧の学校コード {code}（{name}）があります。この学校からの提出かもしれません）",
    # --- order: which of two differing files of one school was used (the submissions-differ query)
    "order.by-file-time": "ファイルの更新日時（{used}。もう一方は{other}）が新しい",
    "order.by-name": "ファイルの日時で区別できないため、名前の順で後になる",
    "order.difference": "「{label}」{old}→{new}",
    "order.more": "ほか{count}項目",
    # --- format: what a file that is not a spreadsheet is
    "format.pdf": "PDF ファイル",
    "format.png": "PNG 画像",
    "format.jpeg": "JPEG 画像",
    "format.gif": "GIF 画像",
    "format.rtf": "RTF 文書",
    "format.rar": "RAR 圧縮ファイル",
    "format.7z": "7-Zip 圧縮ファイル",
    "format.gzip": "gzip 圧縮ファイル",
    "format.html": "HTML ファイル（Web ページ形式で保存されたもの）",
    "format.xml": "XML ファイル（XML スプレッドシート形式など）",
    "format.mail": "メールのファイル",
    "format.text": "テキストファイル（CSV など）",
    "format.unknown": "形式の分からないファイル",
    "format.odf-text": "OpenDocument 文書（ワープロ）",
    "format.odf-other": "表計算以外の OpenDocument ファイル",
    "format.word": "Word 文書",
    "format.powerpoint": "PowerPoint ファイル",
    "format.zip": "ZIP 圧縮ファイル（中に調査票が入っていれば、取り出して保存してください）",
    "format.word-97": "Word 97-2003 文書",
    "format.powerpoint-97": "PowerPoint 97-2003 ファイル",
    "format.ole-other": "Office 以外の複合ファイル（Thumbs.db など）",
    "format.special-file": "名前付きパイプや装置など、通常のファイルではないもの",
    # --- detail: links and the file itself
    "detail.link-dangling": "リンク先がありません",
    "detail.link-loop": "リンクが循環しています",
    "detail.link-outside": "受付フォルダーの外を指すリンク",
    "detail.link-not-a-file": "ファイルではないものを指すリンク",
    "detail.hard-link-outside": "受付フォルダーの外にあるファイルへのハードリンク",
    "detail.file-swapped": "読み取りの途中でファイルが差し替えられました",
    "detail.file-size": "{mb} MB",
    "detail.file-over-limit": "{mb} MB を超えています",
    "detail.cannot-read": "読み込めません: {error}",
    # --- detail: the container (zip, XML parts, old Excel)
    "detail.zip-truncated": "ZIP 形式が途中で切れているか壊れています",
    "detail.zip-corrupt": "ZIP の中身が壊れています",  # the library's English error stays out of a Japanese reason
    "detail.zip-method": "表計算ソフトが使わない圧縮方式（{method}）の部分があります",
    "detail.zip-member-size": "展開すると {mb} MB になる部分があります",
    "detail.zip-total-size": "展開すると {mb} MB になります",
    "detail.zip-ratio": "展開すると {ratio} 倍に膨らむ部分があります。圧縮爆弾（zip bomb）の疑いがあります",
    "detail.zip-understated": "展開すると申告より大きくなる部分があります。圧縮爆弾（zip bomb）の疑いがあります",
    "detail.xml-doctype": "ブックの構成情報（{part}）に外部参照や実体の定義（DOCTYPE）があります",
    "detail.xml-broken": "ブックの構成情報（XML）が壊れています",
    "detail.xml-entities": "ブックの構成情報（XML）に外部参照や実体の定義があります",
    "detail.xls-broken": "古い Excel 形式（.xls）のファイル構造が壊れています",
    "detail.xlsb-broken": "Excel バイナリブック（.xlsb）のファイル構造が壊れています",
    "detail.sheet-extent": "シートの使用範囲が {extent} まで広がっています",
    # --- detail: the spreadsheet reader ({what} is one of the two below)
    "detail.workbook-unreadable": "表計算ファイルとして読めません",
    "detail.sheet-unreadable": "シートを読めません",
    "detail.reader-format": "{what}。中身の一部が壊れているか、形式が正しくありません",
    "detail.reader-zip-corrupt": "{what}。ZIP の中身が壊れています（{error}）",
    "detail.reader-error": "{what}（{error}）",
    "detail.reader-panic": "表計算ファイルとして読めません（読み取り部品の内部エラー: {error}）",
    "detail.unexpected-error": "{kind}: {error}",
    # --- detail: a reader process that died (parallel.py)
    "detail.reader-timeout": "{seconds}秒たっても読み終わらないため中断しました",
    "detail.reader-killed": "読み取り処理が強制終了しました（{signal}）",
    "detail.signal-number": "シグナル {number}",
    "detail.reader-exit": "読み取り処理が異常終了しました（終了コード {code}）",
    # --- detail: a workbook that is not this year's survey template
    "detail.no-meta-no-answers": "調査票の管理情報も回答欄も見つかりません",
    "detail.no-meta": "調査票の管理情報（非表示シート）がありません。別のブックに写したものかもしれません",
    "detail.survey-id": "調査の識別子が「{found}」です",
    "detail.year-as-typed": "年度「{found}」",
    "detail.template-version": "版「{found}」、今回は「{expected}」",
    "detail.fingerprint-mismatch": "調査票の識別情報が今回の調査定義と一致しません",
    "detail.no-answer-cells": "回答欄が見つかりません",
    "detail.unknown": "不明",
    "detail.blank": "空欄",
}
