// Creative work, media and culture. Written for jobbert; one title per line: en | de | es | zh
export default `
graphic designer | Grafikdesigner | diseñador gráfico | 平面设计师
art director | Art Director | director de arte | 艺术总监
creative director | Kreativdirektor | director creativo | 创意总监
illustrator | Illustrator | ilustrador | 插画师
animator | Animator | animador | 动画师
3D artist | 3D-Künstler | artista 3D | 3D美术师
motion designer | Motion Designer | diseñador de motion graphics | 动效设计师
product designer | Produktdesigner | diseñador de producto | 产品设计师
industrial designer | Industriedesigner | diseñador industrial | 工业设计师
fashion designer | Modedesigner | diseñador de moda | 服装设计师
jewellery designer | Schmuckdesigner | diseñador de joyas | 珠宝设计师
photographer | Fotograf | fotógrafo | 摄影师
video editor | Videoeditor | editor de vídeo | 视频剪辑师
cameraman | Kameramann | camarógrafo | 摄像师
film director | Filmregisseur | director de cine | 电影导演
film producer | Filmproduzent | productor de cine | 电影制片人
screenwriter | Drehbuchautor | guionista | 编剧
actor | Schauspieler | actor | 演员
musician | Musiker | músico | 音乐家
singer | Sänger | cantante | 歌手
composer | Komponist | compositor | 作曲家
dancer | Tänzer | bailarín | 舞蹈演员
sound engineer | Tontechniker | técnico de sonido | 音响工程师
lighting technician | Beleuchter | técnico de iluminación | 灯光师
stage manager | Inspizient | regidor de escena | 舞台监督
journalist | Journalist | periodista | 记者
editor | Redakteur | editor | 编辑
editor-in-chief | Chefredakteur | redactor jefe | 主编
news presenter | Nachrichtensprecher | presentador de noticias | 新闻主播
radio host | Radiomoderator | locutor de radio | 电台主持人
author | Schriftsteller | escritor | 作家
proofreader | Korrektor | corrector de textos | 校对员
publisher | Verleger | editor de libros | 出版人
blogger | Blogger | bloguero | 博主
influencer | Influencer | influencer | 网红
game designer | Spieledesigner | diseñador de videojuegos | 游戏策划
art restorer | Restaurator | restaurador de arte | 文物修复师
gallery manager | Galerieleiter | director de galería | 画廊经理
`;
